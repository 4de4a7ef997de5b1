"""Local orchestration overhead: PutObject -> record, minus the endpoint's own service time.

    python -m bench.orchestration [--segments 20]

Starts the local stack, then uploads one segment at a time (no queueing) and
waits for its record. For each: the time from just before PutObject to the
moment ``RecordDetection`` started (the record's ``created_at``, the state's
entry time), minus the endpoint's own ``timings_ms.total`` (download + decode +
forward inside the container). What remains is the cost of S3 -> EventBridge ->
Step Functions -> Lambda -> the SageMaker hop, here. Writes
``bench/results/orchestration.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile

from bench.inference import ROOT
from bench.report import command_line, machine, write
from devstack import observe
from devstack.stack import LocalStack


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args(argv)
    from videos.samples import cut_segments, sample_path

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-orch-") as workdir:
        segment = cut_segments(sample_path("bikes.mp4"), workdir)[0]
        with LocalStack(state_dir=os.path.join(workdir, "stack")) as stack:
            info = stack.info
            s3 = observe.clients(info)["s3"]
            for index in range(args.segments + 1):  # the first one warms the endpoint; not counted
                key = f"{info['stream_prefix']}/bench/segment_{index:05d}.ts"
                before = len(observe.executions(info))
                put_at = datetime.datetime.now(datetime.timezone.utc)
                s3.upload_file(segment, info["livestream_bucket"], key)
                observe.wait_for_executions(info, before + 1, timeout_s=120)
                (record,) = [r for r in observe.timeline(info, "bench") if r["segment_seq"] == index]
                recorded_at = datetime.datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
                total = (recorded_at - put_at).total_seconds()
                service = record["timings_ms"]["total"] / 1000
                if index:
                    rows.append({"put_to_record_s": total, "endpoint_service_s": service, "overhead_s": total - service})
    overhead = [r["overhead_s"] for r in rows]
    report = {
        "machine": machine(),
        "command": f"python -m bench.orchestration --segments {args.segments}",
        "segments": len(rows),
        "overhead_median_s": statistics.median(overhead),
        "overhead_min_s": min(overhead),
        "overhead_max_s": max(overhead),
        "put_to_record_median_s": statistics.median(r["put_to_record_s"] for r in rows),
        "endpoint_service_median_s": statistics.median(r["endpoint_service_s"] for r in rows),
        "rows": rows,
    }
    text = "\n".join(
        [
            "# Local orchestration overhead",
            "",
            command_line(report),
            "One segment at a time (bikes, 640x272, 10 s) through the local stack: PutObject -> EventBridge rule -> "
            "Express execution -> ValidateSegment -> DetectActivity -> RecordDetection. The first segment warms up and is not counted.",
            "",
            "| segments | PutObject -> record (median) | endpoint service time (median) | overhead median | min | max |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {report['segments']} | {report['put_to_record_median_s']:.3f} s | {report['endpoint_service_median_s']:.3f} s "
            f"| **{report['overhead_median_s']:.3f} s** | {report['overhead_min_s']:.3f} s | {report['overhead_max_s']:.3f} s |",
            "",
            "The overhead is this machine's moto + bridges + in-process Lambda, not AWS's: on AWS the same hops are "
            "S3 event delivery, EventBridge, an Express start, a Lambda invocation and the SageMaker front end.",
            "",
        ]
    )
    write(args.out, "orchestration", text, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
