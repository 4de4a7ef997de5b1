"""A burst: at least 3x what the endpoint serves within the task timeout, all at once, ``clips=3``.

    python -m bench.burst [--factor 3] [--threads 10]

The stack runs with the production retry timings (``fastRetries`` off: the busy
waits must really wait). First one segment is timed alone (service time ``t``);
then ``ceil(factor x task timeout / t)`` uploads go up from ``--threads`` threads,
as a camera reconnecting with its backlog would. Checked afterwards:

- nothing lost: every upload is exactly one record or one dead letter;
- nothing in the DLQ that a retry would have recorded: ``redrive`` of every
  dead letter must record none of them (a redrive that succeeds is a segment
  the burst dropped for lack of patience, not for a reason).

Writes bench/results/burst.{md,json}.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from bench.inference import ROOT
from bench.report import command_line, machine, write
from devstack import observe
from devstack.redrive import redrive
from devstack.stack import LocalStack
from state_machine.definition import WorkflowTuning

TIMEOUT_S = WorkflowTuning().endpoint_timeout_seconds


def intake_bound(info: dict) -> int:
    """The deployed event source mapping's MaximumConcurrency (what the intake lets in at once)."""
    import boto3

    from devstack.stack import LOCAL_CREDENTIALS

    lam = boto3.client("lambda", region_name=info["region"], endpoint_url=info["endpoint_url"], **LOCAL_CREDENTIALS)
    (mapping,) = lam.list_event_source_mappings()["EventSourceMappings"]
    return int(mapping["ScalingConfig"]["MaximumConcurrency"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args(argv)
    from videos.samples import cut_segments, sample_path

    with tempfile.TemporaryDirectory(prefix="bench-burst-") as workdir:
        segment = cut_segments(sample_path("bikes.mp4"), workdir)[0]
        overrides = {"clips": 3, "fastRetries": False}
        with LocalStack(state_dir=os.path.join(workdir, "stack"), overrides=overrides) as stack:
            info = stack.info
            s3 = observe.clients(info)["s3"]
            prefix, bucket = info["stream_prefix"], info["livestream_bucket"]
            before = len(observe.executions(info))
            info_concurrency = intake_bound(info)
            s3.upload_file(segment, bucket, f"{prefix}/alone/segment_00000.ts")
            observe.wait_for_executions(info, before + 1)
            (alone,) = observe.timeline(info, "alone")
            service_s = alone["timings_ms"]["total"] / 1000
            uploads = max(1, math.ceil(args.factor * TIMEOUT_S / service_s))
            keys = [f"{prefix}/burst/segment_{i:05d}.ts" for i in range(uploads)]
            started, burst_started = time.time(), datetime.datetime.now(datetime.timezone.utc)
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(lambda key: s3.upload_file(segment, bucket, key), keys))
            found = observe.wait_for_intake(info, timeout_s=3600)
            elapsed = time.time() - started
            in_burst = [e for e in found if e["startDate"] >= burst_started]
            tries = collections.Counter(int(e["name"].rsplit("-", 1)[1]) for e in in_burst)
            recorded = collections.Counter(r["s3_uri"].split("/", 3)[3] for r in observe.timeline(info, "burst"))
            letters = [letter for letter in observe.dead_letters(info) if (letter.object_key or "").startswith(f"{prefix}/burst/")]
            undelivered = [e for e in observe.undelivered_events(info) if (e.object_key or "").startswith(f"{prefix}/burst/")]
            lettered = collections.Counter([letter.object_key for letter in letters] + [e.object_key for e in undelivered])
            reasons = collections.Counter(f"{letter.failed_state}: {letter.reason}" for letter in letters)
            redriven = redrive(info, only=lambda letter: (letter.object_key or "").startswith(f"{prefix}/burst/"))
    lost = [key for key in keys if (recorded.get(key, 0), lettered.get(key, 0)) not in ((1, 0), (0, 1))]
    report = {
        "machine": machine(),
        "command": f"python -m bench.burst --factor {args.factor} --threads {args.threads}",
        "task_timeout_s": TIMEOUT_S,
        "service_time_s": service_s,
        "uploads": uploads,
        "records": sum(recorded.values()),
        "dead_letters": len(letters),
        "undelivered_events": len(undelivered),
        "intake_max_concurrency": info_concurrency,
        "most_executions_at_once": observe.most_in_flight(in_burst),
        "executions_by_try": dict(sorted(tries.items())),
        "dead_letter_reasons": dict(reasons),
        "lost_or_doubled": lost,
        "recorded_by_redrive": len(redriven.redriven),
        "elapsed_s": elapsed,
    }
    ok = not lost and not redriven.redriven
    text = "\n".join([
        "# Burst: 3x what the endpoint serves within the task timeout, at once (clips=3)",
        "",
        command_line(report),
        "",
        "| service time | task timeout | uploads | intake bound | most executions at once | executions by try "
        "| records | dead letters (reasons) | undelivered | lost or doubled | recorded by a redrive | elapsed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {service_s:.2f} s | {TIMEOUT_S} s | {uploads} | {info_concurrency} | {report['most_executions_at_once']} "
        f"| {report['executions_by_try']} | {report['records']} | {len(letters)} {dict(reasons) or ''} "
        f"| {len(undelivered)} | {len(lost)} | {len(redriven.redriven)} | {elapsed:.0f} s |",
        "",
        "Uploads wait in the intake queue (S3 -> EventBridge -> SQS -> start-workflow Lambda, at most the",
        "intake bound at once, `contracts/intake.py`); a try without an outcome is hidden and tried again.",
        "",
        f"Verdict: {'holds' if ok else 'FAILS'}: nothing lost, and nothing in the DLQ that a retry would have recorded.",
        "",
    ])
    write(args.out, "burst", text, report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
