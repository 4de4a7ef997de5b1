"""``python -m devstack``: the whole pipeline on one machine.

    python -m devstack demo [VIDEO]                      # up + stream + timeline, then down
    python -m devstack up                                # run until Ctrl-C; writes .devstack/stack.json
    python -m devstack stream VIDEO --stream-id ID [--realtime] [--loops N]
    python -m devstack backfill FILE_OR_FOLDER... [--concurrency N]
    python -m devstack results --stream-id ID [--json] [--clips] [--plot FILE.png]
    python -m devstack dlq [--json]
    python -m devstack trace [EXECUTION_ARN]
    python -m devstack executions [--last N] [--json]
    python -m devstack redrive [--stream-id ID]
    python -m devstack events --stream-id ID [--json] [--follow] [--urls]
    python -m devstack alerts [--json] [--follow]
    python -m devstack streams
    python -m devstack console [--port 8008]              # the review console in the browser (127.0.0.1)

The other commands use the running local stack (found through
``.devstack/stack.json``, reached with the stack's own dummy credentials: no
AWS variables needed), or a real deployment with ``--aws --bucket B --table T
--dlq-url U --state-machine-arn A`` (credentials from the usual AWS environment).
Mistakes are reported in one line on stderr, with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from typing import Any, Callable

import boto3
import botocore.exceptions

from contracts.segments import stream_folder
from devstack import observe
from devstack.errors import DevstackError
from devstack.stack import LOCAL_CREDENTIALS, STATE_DIR, LocalStack, load_stack, require_model, stop_on_signals
from infra.settings import project_defaults

#: Pulumi.yaml's config defaults: the flags that stand for config keys default to them.
DEFAULTS = project_defaults()

BANNER = "=" * 78


#: For ``--aws``: the option each stack key comes from.
_AWS_OPTIONS = {
    "livestream_bucket": "--bucket",
    "table_name": "--table",
    "dlq_url": "--dlq-url",
    "state_machine_arn": "--state-machine-arn",
}


def _info(args, *needs: str) -> dict:
    """The stack to talk to: the running local stack, or with ``--aws`` the deployment the options name.

    ``needs`` lists the keys this command uses; with ``--aws`` a missing option is one clear error.
    """
    if getattr(args, "aws", False):
        session = boto3.session.Session()
        info = {
            "endpoint_url": None,  # marks a real deployment
            "region": session.region_name,
            "livestream_bucket": args.bucket,
            "stream_prefix": args.stream_prefix,
            "table_name": args.table,
            "dlq_url": args.dlq_url,
            "state_machine_arn": args.state_machine_arn,
            "episodes_table_name": args.episodes_table,
            "events_dlq_url": args.events_dlq_url,
        }
        missing = [_AWS_OPTIONS[key] for key in needs if not info.get(key)]
        if missing:
            raise DevstackError(f"--aws needs {', '.join(missing)} (the stack outputs; `pulumi stack output`)")
        if not info["region"]:
            raise DevstackError("--aws needs a region: set AWS_REGION or run `aws configure`")
        return info
    return load_stack(args.state_dir)


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
    from devstack.stream import stream_video

    started = time.time()
    if not args.model_dir:
        require_model()
    _check_video(args.video)
    _random_weights_warning()
    stack = LocalStack(state_dir=args.state_dir, overrides=_stack_overrides(args))
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
        from devstack import episodes as episode_reader

        episodes = episode_reader.for_stream(info, args.stream_id)
        print()
        print(f"episodes of stream {args.stream_id!r} (table {info['episodes_table_name']}; the last stays open "
              "until two segments without its label, or the sweep finds the stream stalled):")
        print(episode_reader.format_table(episodes))
        letters = observe.dead_letters(info)
        print()
        print(observe.format_dead_letters(letters))
        for event in observe.alerts(info):
            print(observe.format_alert(event))
        if found:
            execution, steps = observe.trace(info, found[-1]["executionArn"])
            print()
            print(observe.format_trace(execution, steps))
        picture = os.path.join(args.state_dir, "timeline.png") if args.plot is None else args.plot
        if picture:
            from devstack.plot import plot_timeline

            os.makedirs(os.path.dirname(os.path.abspath(picture)), exist_ok=True)
            plot_timeline(items, picture, title=f"stream {args.stream_id}", watched=args.watch, episodes=episodes)
            print(f"\ntimeline picture written to {picture}")
        ok = len(items) == len(uploaded.keys) and not letters
        print(f"\n{len(items)} records for {len(uploaded.keys)} segments, {len(letters)} dead letters, "
              f"{len(found) - before} executions; {time.time() - started:.0f} s in all")
        if args.console is not None:
            _serve_console(info, args.console)
        else:
            print("\nTo review this run in the browser, run `.venv/bin/python -m devstack demo --console`:"
                  "\nit keeps the local stack up and serves the console on http://127.0.0.1:8008/ until Ctrl-C.")
        return 0 if ok else 1
    finally:
        stack.stop()


def _stack_overrides(args) -> dict:
    overrides = {"clips": args.clips, "minConfidence": args.min_confidence}
    if getattr(args, "model_dir", None):
        _check_model_dir(args.model_dir)
        overrides["modelDir"] = os.path.abspath(args.model_dir)
    if args.watch:
        overrides.update(watchActivities=args.watch, alertThreshold=args.alert_threshold)
    return overrides


def _check_model_dir(path: str) -> None:
    """The seed's model contract: model-symbol.json, model-0000.params, classes.txt (manifest.json optional)."""
    missing = [name for name in ("model-symbol.json", "model-0000.params", "classes.txt")
               if not os.path.exists(os.path.join(path, name))]
    if missing:
        raise DevstackError(f"--model-dir {path}: missing {', '.join(missing)} (the seed's contract: "
                         "model-symbol.json, model-0000.params, classes.txt)")


def cmd_up(args) -> int:
    if not args.model_dir:
        require_model()
    stack = LocalStack(state_dir=args.state_dir, overrides=_stack_overrides(args))
    try:
        info = stack.start()
        print(f"local stack up; details in {os.path.join(args.state_dir, 'stack.json')}. "
              f"Ctrl-C (or kill {os.getpid()}) stops it.\n{observe.as_json(info)}", flush=True)
        sagemaker = boto3.client("sagemaker", endpoint_url=info["endpoint_url"], region_name=info["region"], **LOCAL_CREDENTIALS)
        status = "InService"
        while stack.process.poll() is None:
            time.sleep(1)
            try:
                described = sagemaker.describe_endpoint(EndpointName=info["endpoint_name"])
            except botocore.exceptions.BotoCoreError:
                continue  # the server is stopping
            if described["EndpointStatus"] != status:
                status = described["EndpointStatus"]
                reason = f": {described['FailureReason']}" if described.get("FailureReason") else ""
                print(f"endpoint {info['endpoint_name']} is {status}{reason}", file=sys.stderr, flush=True)
        print(f"the local AWS server exited (code {stack.process.returncode}); see {args.state_dir}/moto.log",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _check_video(path: str) -> None:
    from devstack.stream import check_video

    check_video(path)


def cmd_stream(args) -> int:
    from devstack.stream import stream_video

    _check_video(args.video)
    info = _info(args, "livestream_bucket")
    s3 = observe.clients(info)["s3"]
    if info.get("table_name"):
        existing = len(observe.timeline(info, args.stream_id))
        if existing:
            print(f"note: stream {args.stream_id!r} already has {existing} records; segments with the same numbers "
                  "replace theirs (choose another --stream-id to keep both)", file=sys.stderr, flush=True)
    uploaded = stream_video(
        args.video, s3, info["livestream_bucket"], info["stream_prefix"], args.stream_id,
        realtime=args.realtime, loops=args.loops,
    )
    print(f"uploaded {len(uploaded.keys)} segments to s3://{info['livestream_bucket']}/{info['stream_prefix']}/{args.stream_id}/")
    print(f"see the results with: python -m devstack results --stream-id {args.stream_id}"
          + (" --aws --table TABLE" if args.aws else "") + " (failures: python -m devstack dlq)")
    return 0


def _backfill_files(paths: list[str]) -> list[str]:
    """The files to backfill: each FILE, and the files inside each FOLDER (sorted, hidden files left out)."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(
                sorted(p for p in glob.glob(os.path.join(path, "*")) if os.path.isfile(p))
            )
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise DevstackError(f"no such file or folder: {path}")
    if not files:
        raise DevstackError(f"no files to backfill in {', '.join(paths)}")
    return files


def cmd_backfill(args) -> int:
    from devstack.stream import cut_and_upload

    files = _backfill_files(args.paths)
    info = _info(args, "livestream_bucket")
    s3 = observe.clients(info)["s3"]
    expected = [len(observe.executions(info))] if not args.aws else None

    def wait_for(batch):
        if expected is not None:
            expected[0] += len(batch)
            observe.wait_for_executions(info, expected[0])

    def on_skip(video: str, why: str) -> None:
        print(f"skipped {video}: {why}", file=sys.stderr, flush=True)

    done = cut_and_upload(files, s3, info["livestream_bucket"], info["stream_prefix"], args.concurrency,
                          wait_for=wait_for, on_skip=on_skip)
    for stream_id, keys in done.streams.items():
        print(f"{stream_id}: {len(keys)} segments")
    if done.streams:
        print(f"see them with: python -m devstack results --stream-id {next(iter(done.streams))}"
              + (" (and the other stream ids above)" if len(done.streams) > 1 else ""))
    if done.skipped:
        print(f"error: {len(done.skipped)} of {len(files)} files skipped (not videos); the others were uploaded",
              file=sys.stderr)
        return 1
    return 0


def _show(args, data: Any, as_text: Callable[[Any], str]) -> int:
    """``--json``: ``data`` as JSON; else its human form."""
    print(observe.as_json(data) if args.json else as_text(data))
    return 0


def cmd_results(args) -> int:
    info = _info(args, "table_name")
    items = observe.timeline(info, args.stream_id)
    if not items:
        known = observe.stream_ids(info)
        listing = f"streams with records: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}" if known else "the table is empty"
        raise DevstackError(f"no records for stream {args.stream_id!r} ({listing}; `python -m devstack streams` lists them)")
    print(observe.as_json(items) if args.json else observe.format_timeline(items, by_clip=args.clips))
    if args.plot:
        from devstack.plot import plot_timeline

        plot_timeline(items, args.plot, title=f"stream {args.stream_id}", watched=args.watch or ())
        print(f"timeline picture written to {args.plot}", file=sys.stderr)
    return 0


def cmd_streams(args) -> int:
    info = _info(args, "table_name")
    counts = observe.stream_counts(info)
    if not counts and not args.json:
        print("no records yet", file=sys.stderr)
        return 0
    return _show(args, counts, observe.format_stream_counts)


def cmd_dlq(args) -> int:
    info = _info(args, "dlq_url")
    letters = observe.dead_letters(info)
    return _show(args, [{**letter.__dict__, "reason": letter.reason} for letter in letters],
                 lambda _: observe.format_dead_letters(letters))


def cmd_trace(args) -> int:
    info = _info(args, "state_machine_arn")
    arn = args.execution_arn
    if not arn:
        found = sorted(observe.executions(info), key=lambda e: e["startDate"])
        if not found:
            raise DevstackError("no executions yet: upload a segment first (`python -m devstack stream VIDEO --stream-id ID`)")
        arn = found[-1]["executionArn"]
    elif not arn.startswith("arn:"):
        raise DevstackError(f"{arn!r} is not an execution ARN (arn:aws:states:...:execution:...); "
                            "`python -m devstack dlq` shows the ARNs of failed ones")
    try:
        execution, steps = observe.trace(info, arn)
    except LookupError as error:  # no such execution (or its log events are not there yet)
        raise DevstackError(f"{error}; `python -m devstack executions` lists them") from None
    print(observe.format_trace(execution, steps))
    return 0


def cmd_executions(args) -> int:
    """The state machine's executions, from its log group (as on AWS, where Express has no ListExecutions)."""
    info = _info(args, "state_machine_arn")
    return _show(args, observe.executions(info)[-args.last:], observe.format_executions)


def cmd_alerts(args) -> int:
    info = _info(args)
    if not info.get("alerts_queue_url"):
        raise DevstackError("no alerts queue: start the local stack with `devstack up`")
    try:
        while True:
            for event in observe.alerts(info, wait_s=1):
                print(observe.as_json_line(observe.alert_row(event)) if args.json else observe.format_alert(event), flush=True)
            if not args.follow:
                return 0
    except KeyboardInterrupt:
        return 0


def _serve_console(info: dict, port: int) -> None:
    from devstack.console.app import serve
    from devstack.console.data import ConsoleData

    server = serve(ConsoleData(info), port=port)
    print(f"console on http://127.0.0.1:{server.effective_port}/ (reading {'AWS' if not info.get('endpoint_url') else 'the local stack'}); "
          "Ctrl-C stops it", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def cmd_console(args) -> int:
    _serve_console(_info(args, "livestream_bucket", "table_name", "dlq_url", "state_machine_arn"), args.port)
    return 0


def cmd_events(args) -> int:
    from devstack import episodes as reader

    info = _info(args)
    shown: dict[str, tuple] = {}
    try:
        while True:
            found = reader.for_stream(info, args.stream_id)
            fresh = [e for e in found if shown.get(e.episode_id) != (e.status, e.last_seq, e.clip_uri, e.snapshot_uri)]
            for episode in fresh:
                shown[episode.episode_id] = (episode.status, episode.last_seq, episode.clip_uri, episode.snapshot_uri)
            if args.json:
                for episode in (fresh if args.follow else found):
                    print(observe.as_json_line(reader.as_row(episode, info, urls=args.urls)), flush=True)
            elif fresh or not args.follow:
                print(reader.format_table(fresh if args.follow else found), flush=True)
                if args.urls:
                    for episode in found:
                        for name, uri in (("snapshot", episode.snapshot_uri), ("clip", episode.clip_uri)):
                            if uri:
                                print(f"{episode.episode_id} {name}: {reader.presign(info, uri)}")
            if not args.follow:
                return 0
            time.sleep(2)
    except KeyboardInterrupt:
        return 0


def cmd_redrive(args) -> int:
    from devstack.redrive import redrive

    info = _info(args, "dlq_url", "state_machine_arn")
    prefix = stream_folder(info["stream_prefix"], args.stream_id) if args.stream_id else ""
    report = redrive(info, only=lambda letter: (letter.object_key or "").startswith(prefix))
    for key in report.redriven:
        print(f"recorded     {key}")
    for key, reason in report.still_failing:
        print(f"still fails  {key}: {reason} (its message stays in the queue)")
    print(f"{len(report.redriven)} redriven, {len(report.still_failing)} still failing, {report.skipped} left alone")
    return 0 if not report.still_failing else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def state_dir_option(command):
        command.add_argument(
            "--state-dir", default=STATE_DIR, metavar="DIR",
            help=f"the local stack's state folder (default {os.path.relpath(STATE_DIR)}; env DEVSTACK_STATE_DIR)",
        )

    def aws_options(command):
        state_dir_option(command)
        group = command.add_argument_group("a real deployment instead of the local stack")
        group.add_argument("--aws", action="store_true", help="use a real deployment (the shell's AWS credentials and region)")
        group.add_argument("--bucket", help="livestream bucket (stack output livestream_bucket)")
        group.add_argument("--stream-prefix", default=DEFAULTS["streamPrefix"],
                           help=f"key prefix of segments (config streamPrefix; default {DEFAULTS['streamPrefix']})")
        group.add_argument("--table", help="results table (stack output table_name)")
        group.add_argument("--dlq-url", help="workflow dead-letter queue (stack output workflow_dlq_url)")
        group.add_argument("--state-machine-arn", help="stack output state_machine_arn")
        group.add_argument("--episodes-table", help="episodes table (stack output episodes_table_name)")
        group.add_argument("--events-dlq-url", help="events dead-letter queue (stack output events_dlq_url): the console's "
                           "dead letters also list the events the workflow never received")

    def stack_options(command):
        state_dir_option(command)
        command.add_argument("--model-dir", metavar="DIR", help="model directory in the seed's contract: model-symbol.json, "
                             "model-0000.params, classes.txt (config modelDir; default model/artifacts)")
        # argparse applies `type` to a string default too (Pulumi.yaml holds fractions as strings).
        command.add_argument("--clips", type=int, default=DEFAULTS["clips"], help="clips per segment (config clips)")
        command.add_argument("--min-confidence", type=float, default=DEFAULTS["minConfidence"], help="config minConfidence")
        command.add_argument("--watch", nargs="*", default=DEFAULTS["watchActivities"], metavar="LABEL",
                             help="labels to alert on (config watchActivities)")
        command.add_argument("--alert-threshold", type=float, default=DEFAULTS["alertThreshold"], help="config alertThreshold")

    demo = commands.add_parser("demo", help="the whole pipeline on the sample video, then stop")
    demo.add_argument("video", nargs="?", default="videos/bikes.mp4", help="video to stream (default videos/bikes.mp4)")
    demo.add_argument("--stream-id", default="demo", help="stream folder the segments go to (default demo)")
    demo.add_argument("--loops", type=int, default=2, help="play the video 1+N times (3 segments for the 10 s sample)")
    demo.add_argument("--realtime", action="store_true", help="upload at the video's pace (10 s per segment), like a live source")
    demo.add_argument("--plot", default=None, metavar="PNG",
                      help="where to write the timeline picture (default: timeline.png in the state folder; '' for none)")
    demo.add_argument("--console", nargs="?", type=int, const=8008, metavar="PORT",
                      help="keep the stack up afterwards and serve the console (default port 8008) until Ctrl-C")
    stack_options(demo)
    demo.set_defaults(clips=3)  # the demo shows the timeline inside each segment
    demo.set_defaults(run=cmd_demo)

    up = commands.add_parser("up", help="start the local stack and keep it running (Ctrl-C or SIGTERM stops it)")
    stack_options(up)
    up.set_defaults(run=cmd_up)

    stream = commands.add_parser("stream", help="cut a video into HLS segments and upload them")
    stream.add_argument("video", help="video file to cut (anything ffmpeg reads)")
    stream.add_argument("--stream-id", required=True, help="stream folder under the prefix (the records' stream_id)")
    stream.add_argument("--realtime", action="store_true", help="upload at the video's pace, like a live source")
    stream.add_argument("--loops", type=int, default=0, help="play the video 1+N times")
    aws_options(stream)
    stream.set_defaults(run=cmd_stream)

    backfill = commands.add_parser("backfill", help="push recorded files through the pipeline (one stream per file)")
    backfill.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER",
                          help="video files, or folders whose files are backfilled; non-videos are skipped with a message")
    backfill.add_argument("--concurrency", type=int, default=4, help="segments in flight at most (default 4)")
    aws_options(backfill)
    backfill.set_defaults(run=cmd_backfill)

    results = commands.add_parser("results", help="a stream's timeline")
    results.add_argument("--stream-id", required=True, help="the stream (`streams` lists them)")
    results.add_argument("--json", action="store_true", help="the records as JSON")
    results.add_argument("--clips", action="store_true", help="one row per clip inside each segment")
    results.add_argument("--plot", metavar="FILE.png", help="write the timeline picture (PNG)")
    results.add_argument("--watch", nargs="*", metavar="LABEL", help="labels to mark on the picture")
    aws_options(results)
    results.set_defaults(run=cmd_results)

    streams = commands.add_parser("streams", help="the streams that have records, with their record counts")
    streams.add_argument("--json", action="store_true", help="as JSON")
    aws_options(streams)
    streams.set_defaults(run=cmd_streams)

    dlq = commands.add_parser("dlq", help="failed segments and their reasons (the queue is left as it is)")
    dlq.add_argument("--json", action="store_true", help="every dead letter as JSON, with its whole cause")
    aws_options(dlq)
    dlq.set_defaults(run=cmd_dlq)

    trace = commands.add_parser("trace", help="one execution's states, retries and errors")
    trace.add_argument("execution_arn", nargs="?", metavar="EXECUTION_ARN",
                       help="the execution (default: the latest); `dlq --json` shows failed ones' ARNs")
    aws_options(trace)
    trace.set_defaults(run=cmd_trace)

    executions = commands.add_parser("executions", help="executions with status and duration (from the log group)")
    executions.add_argument("--last", type=int, default=20, help="how many of the latest to show")
    executions.add_argument("--json", action="store_true")
    aws_options(executions)
    executions.set_defaults(run=cmd_executions)

    alerts = commands.add_parser("alerts", help="events on the stack's bus: ActivityStarted/Ended, StreamStalled/Resumed (each shown once)")
    alerts.add_argument("--json", action="store_true", help="one JSON object per line: detail-type and detail")
    alerts.add_argument("--follow", action="store_true", help="keep printing alerts as they happen")
    state_dir_option(alerts)
    alerts.set_defaults(run=cmd_alerts)

    console = commands.add_parser("console", help="the review console in the browser, on 127.0.0.1")
    console.add_argument("--port", type=int, default=8008, help="0: any free port")
    aws_options(console)
    console.set_defaults(run=cmd_console)
    events = commands.add_parser("events", help="a stream's episodes (activities with a start and an end)")
    events.add_argument("--stream-id", required=True)
    events.add_argument("--json", action="store_true", help="one JSON object per episode and line")
    events.add_argument("--follow", action="store_true", help="keep printing episodes as they open, grow and close")
    events.add_argument("--urls", action="store_true", help="presigned URLs of the snapshot and the clip")
    state_dir_option(events)
    events.set_defaults(run=cmd_events)

    redrive = commands.add_parser("redrive", help="send dead-lettered segments through the workflow again")
    redrive.add_argument("--stream-id", help="only this stream's segments")
    aws_options(redrive)
    redrive.set_defaults(run=cmd_redrive)
    return root


def _one_line(error: BaseException) -> str:
    """What went wrong, and what to do, in one line."""
    if isinstance(error, DevstackError):
        return str(error)
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials: with --aws, configure them (`aws configure` or AWS_* variables)"
    if isinstance(error, botocore.exceptions.NoRegionError):
        return "no AWS region: set AWS_REGION or run `aws configure`"
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return (f"cannot reach {error.kwargs.get('endpoint_url')}: is the stack running? "
                "(`python -m devstack up`, or check --aws and the region)")
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return f"{error.operation_name} failed: {details.get('Code')}: {details.get('Message')}"
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return f"AWS call failed: {error}"
    return f"{type(error).__name__}: {error}"


_EXPECTED_ERRORS = (DevstackError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        with stop_on_signals():
            code = args.run(args)
            sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
            return code
    except _EXPECTED_ERRORS as error:
        print(f"error: {_one_line(error).splitlines()[0]}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`results | head`): stop quietly, and keep Python's own
        # flush at exit from raising again (the recipe in Python's signal docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
