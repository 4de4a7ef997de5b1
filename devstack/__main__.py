"""``python -m devstack``: the whole pipeline on one machine.

    python -m devstack demo [VIDEO]                      # up + stream + timeline, then down
    python -m devstack up                                # run until Ctrl-C; writes .devstack/stack.json
    python -m devstack stream VIDEO --stream-id ID [--realtime] [--loops N]
    python -m devstack backfill FILE_OR_FOLDER... [--concurrency N]
    python -m devstack results --stream-id ID [--json] [--clips] [--plot FILE.png]
    python -m devstack dlq [--json]
    python -m devstack trace [EXECUTION_ARN]
    python -m devstack redrive [--stream-id ID]
    python -m devstack alerts [--follow]

``stream``, ``backfill``, ``results``, ``dlq`` and ``trace`` use the running local
stack, or a real deployment with ``--aws --bucket B --table T --dlq-url U
--state-machine-arn A`` (credentials from the usual AWS environment).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import boto3

from devstack import observe
from devstack.stack import LocalStack, load_stack
from devstack.stream import cut_and_upload, stream_video

BANNER = "=" * 78


def _info(args) -> dict:
    if getattr(args, "aws", False):
        session = boto3.session.Session()
        return {
            "endpoint_url": None,
            "region": session.region_name,
            "livestream_bucket": args.bucket,
            "stream_prefix": args.stream_prefix,
            "table_name": args.table,
            "dlq_url": args.dlq_url,
            "state_machine_arn": args.state_machine_arn,
        }  # "endpoint_url": None marks a real deployment
    return load_stack()


def _random_weights_warning() -> None:
    from inference.predictor import load_manifest
    from infra.settings import ROOT

    manifest = load_manifest(os.path.join(ROOT, "model", "artifacts"))
    if manifest.get("random_weights"):
        print(BANNER)
        print("The model has RANDOM WEIGHTS (no pretrained weights can be downloaded here):")
        print("the pipeline, timings and records are real; the labels are not. See README 'Model'.")
        print(BANNER)


def cmd_demo(args) -> int:
    started = time.time()
    _random_weights_warning()
    stack = LocalStack(overrides=_stack_overrides(args))
    try:
        info = stack.start()
        s3 = observe.clients(info)["s3"]
        before = len(observe.executions(info))
        uploaded = stream_video(
            args.video, s3, info["livestream_bucket"], info["stream_prefix"], args.stream_id,
            loops=args.loops, realtime=args.realtime,
        )
        print(f"uploaded {len(uploaded.keys)} segments and the playlist {uploaded.playlist_uploads} times")
        found = observe.wait_for_executions(info, before + len(uploaded.keys))
        items = observe.timeline(info, args.stream_id)
        print()
        print(f"timeline of stream {args.stream_id!r} (table {info['table_name']}):")
        print(observe.format_timeline(items, by_clip=args.clips > 1))
        letters = observe.dead_letters(info)
        print()
        print(observe.format_dead_letters(letters))
        for event in observe.alerts(info):
            print(observe.format_alert(event))
        if found:
            execution, steps = observe.trace(info, found[-1]["executionArn"])
            print()
            print(observe.format_trace(execution, steps))
        if args.plot:
            from devstack.plot import plot_timeline

            plot_timeline(items, args.plot, title=f"stream {args.stream_id}", watched=args.watch)
            print(f"\ntimeline picture written to {args.plot}")
        ok = len(items) == len(uploaded.keys) and not letters
        print(f"\n{len(items)} records for {len(uploaded.keys)} segments, {len(letters)} dead letters, "
              f"{len(found) - before} executions; {time.time() - started:.0f} s in all")
        return 0 if ok else 1
    finally:
        stack.stop()


def _stack_overrides(args) -> dict:
    overrides = {"clips": args.clips, "minConfidence": args.min_confidence}
    if args.watch:
        overrides.update(watchActivities=args.watch, alertThreshold=args.alert_threshold)
    return overrides


def cmd_up(args) -> int:
    stack = LocalStack(overrides=_stack_overrides(args))
    try:
        info = stack.start()
        print(f"local stack up; details in .devstack/stack.json. Ctrl-C stops it.\n{observe.as_json(info)}")
        while stack.process.poll() is None:
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def cmd_stream(args) -> int:
    info = _info(args)
    s3 = observe.clients(info)["s3"]
    uploaded = stream_video(
        args.video, s3, info["livestream_bucket"], info["stream_prefix"], args.stream_id,
        realtime=args.realtime, loops=args.loops,
    )
    print(f"uploaded {len(uploaded.keys)} segments to s3://{info['livestream_bucket']}/{info['stream_prefix']}/{args.stream_id}/")
    return 0


def cmd_backfill(args) -> int:
    info = _info(args)
    files: list[str] = []
    for path in args.paths:
        files.extend(sorted(glob.glob(os.path.join(path, "*"))) if os.path.isdir(path) else [path])
    s3 = observe.clients(info)["s3"]
    expected = [len(observe.executions(info))] if not args.aws else None

    def wait_for(batch):
        if expected is not None:
            expected[0] += len(batch)
            observe.wait_for_executions(info, expected[0])

    streams = cut_and_upload(files, s3, info["livestream_bucket"], info["stream_prefix"], args.concurrency, wait_for=wait_for)
    for stream_id, keys in streams.items():
        print(f"{stream_id}: {len(keys)} segments")
    return 0


def cmd_results(args) -> int:
    info = _info(args)
    items = observe.timeline(info, args.stream_id)
    print(observe.as_json(items) if args.json else observe.format_timeline(items, by_clip=args.clips))
    if args.plot:
        from devstack.plot import plot_timeline

        plot_timeline(items, args.plot, title=f"stream {args.stream_id}", watched=args.watch or ())
        print(f"timeline picture written to {args.plot}", file=sys.stderr)
    return 0


def cmd_dlq(args) -> int:
    info = _info(args)
    letters = observe.dead_letters(info)
    if args.json:
        print(observe.as_json([{**letter.__dict__, "reason": letter.reason} for letter in letters]))
    else:
        print(observe.format_dead_letters(letters))
    return 0


def cmd_trace(args) -> int:
    info = _info(args)
    arn = args.execution_arn
    if not arn:
        found = sorted(observe.executions(info), key=lambda e: e["startDate"])
        if not found:
            print("no executions yet")
            return 1
        arn = found[-1]["executionArn"]
    execution, steps = observe.trace(info, arn)
    print(observe.format_trace(execution, steps))
    return 0


def cmd_alerts(args) -> int:
    info = _info(args)
    if not info.get("alerts_queue_url"):
        print("no alerts: the stack has no watch list (set watchActivities, or `devstack up --watch LABEL...`)")
        return 1
    try:
        while True:
            for event in observe.alerts(info, wait_s=1):
                print(observe.format_alert(event), flush=True)
            if not args.follow:
                return 0
    except KeyboardInterrupt:
        return 0


def cmd_redrive(args) -> int:
    from devstack.redrive import redrive

    info = _info(args)
    prefix = f"{info['stream_prefix']}/{args.stream_id}/" if args.stream_id else ""
    report = redrive(info, only=lambda letter: (letter.object_key or "").startswith(prefix))
    for key in report.redriven:
        print(f"recorded     {key}")
    for key, reason in report.still_failing:
        print(f"still fails  {key}: {reason} (its message stays in the queue)")
    print(f"{len(report.redriven)} redriven, {len(report.still_failing)} still failing, {report.skipped} left alone")
    return 0 if not report.still_failing else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)

    def aws_options(command):
        command.add_argument("--aws", action="store_true", help="use a real deployment instead of the local stack")
        command.add_argument("--bucket", help="livestream bucket (stack output livestream_bucket)")
        command.add_argument("--stream-prefix", default="live")
        command.add_argument("--table", help="stack output table_name")
        command.add_argument("--dlq-url", help="stack output workflow_dlq_url")
        command.add_argument("--state-machine-arn", help="stack output state_machine_arn")

    def stack_options(command):
        command.add_argument("--clips", type=int, default=1, help="clips per segment (config clips)")
        command.add_argument("--min-confidence", type=float, default=0.0, help="config minConfidence")
        command.add_argument("--watch", nargs="*", default=[], help="labels to alert on (config watchActivities)")
        command.add_argument("--alert-threshold", type=float, default=0.5, help="config alertThreshold")

    demo = commands.add_parser("demo", help="the whole pipeline on the sample video")
    demo.add_argument("video", nargs="?", default="videos/bikes.mp4")
    demo.add_argument("--stream-id", default="demo")
    demo.add_argument("--loops", type=int, default=2, help="play the video 1+N times (3 segments for the 10 s sample)")
    demo.add_argument("--realtime", action="store_true")
    demo.add_argument("--plot", default=".devstack/timeline.png")
    stack_options(demo)
    demo.set_defaults(clips=3)  # the demo shows the timeline inside each segment
    demo.set_defaults(run=cmd_demo)

    up = commands.add_parser("up", help="start the local stack and keep it running")
    stack_options(up)
    up.set_defaults(run=cmd_up)

    stream = commands.add_parser("stream", help="cut a video into HLS segments and upload them")
    stream.add_argument("video")
    stream.add_argument("--stream-id", required=True)
    stream.add_argument("--realtime", action="store_true", help="upload at the video's pace, like a live source")
    stream.add_argument("--loops", type=int, default=0)
    aws_options(stream)
    stream.set_defaults(run=cmd_stream)

    backfill = commands.add_parser("backfill", help="push recorded files through the pipeline")
    backfill.add_argument("paths", nargs="+")
    backfill.add_argument("--concurrency", type=int, default=4)
    aws_options(backfill)
    backfill.set_defaults(run=cmd_backfill)

    results = commands.add_parser("results", help="a stream's timeline")
    results.add_argument("--stream-id", required=True)
    results.add_argument("--json", action="store_true")
    results.add_argument("--clips", action="store_true", help="one row per clip inside each segment")
    results.add_argument("--plot", help="write the timeline picture (PNG)")
    results.add_argument("--watch", nargs="*", help="labels to mark on the picture")
    aws_options(results)
    results.set_defaults(run=cmd_results)

    dlq = commands.add_parser("dlq", help="failed segments and their reasons")
    dlq.add_argument("--json", action="store_true")
    aws_options(dlq)
    dlq.set_defaults(run=cmd_dlq)

    trace = commands.add_parser("trace", help="one execution's states, retries and errors")
    trace.add_argument("execution_arn", nargs="?")
    aws_options(trace)
    trace.set_defaults(run=cmd_trace)
    alerts = commands.add_parser("alerts", help="ActivityDetected events for watched activities")
    alerts.add_argument("--follow", action="store_true", help="keep printing alerts as they happen")
    alerts.set_defaults(run=cmd_alerts)

    redrive = commands.add_parser("redrive", help="send dead-lettered segments through the workflow again")
    redrive.add_argument("--stream-id", help="only this stream's segments")
    aws_options(redrive)
    redrive.set_defaults(run=cmd_redrive)
    return root


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
