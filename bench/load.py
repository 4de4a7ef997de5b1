"""A burst of uploads, good and bad mixed, through the local stack; checks that nothing is lost.

    python -m bench.load [--segments 200] [--concurrency 8]
    python -m bench.load --burst 3          # the burst scenario (bench/burst.py): 3x what the endpoint serves in the task timeout

Invariant checked: every `.ts` upload ends as exactly one record or exactly one
dead-letter message, never both, never neither; playlists end at once (``PlaylistIgnored``),
with neither.
Reports throughput and p50/p99 latency from upload to outcome (execution stop).
Writes bench/results/load.{md,json}.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import random
import statistics
import sys
import tempfile
import time

from bench.inference import ROOT
from bench.report import command_line, machine, write
from devstack import observe
from devstack.stack import LocalStack


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--burst", type=float, metavar="FACTOR", help="run the burst scenario instead (bench/burst.py)")
    args = parser.parse_args(argv)
    if args.burst:
        from bench import burst

        return burst.main(["--factor", str(args.burst), "--out", args.out])
    from videos.samples import cut_segments, sample_path

    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as workdir:
        good = open(cut_segments(sample_path("bikes.mp4"), workdir)[0], "rb").read()
        kinds = ["good"] * int(args.segments * 0.75) + ["random_bytes"] * int(args.segments * 0.15)
        kinds += ["zero_byte"] * (args.segments - len(kinds))
        rng.shuffle(kinds)
        bodies = {"good": good, "zero_byte": b"", "random_bytes": rng.randbytes(40_000)}
        with LocalStack(state_dir=os.path.join(workdir, "stack")) as stack:
            info = stack.info
            s3 = observe.clients(info)["s3"]
            sfn = observe.clients(info)["stepfunctions"]
            put_at: dict[str, datetime.datetime] = {}
            started = time.time()
            for index, kind in enumerate(kinds):
                while True:  # bounded concurrency: at most N executions in flight
                    running = sum(1 for e in observe.executions(info) if e["status"] == "RUNNING")
                    if running < args.concurrency:
                        break
                    time.sleep(0.05)
                stream = f"load-{index % 10}"
                key = f"{info['stream_prefix']}/{stream}/segment_{index:05d}.ts"
                put_at[key] = datetime.datetime.now(datetime.timezone.utc)
                s3.put_object(Bucket=info["livestream_bucket"], Key=key, Body=bodies[kind])
                if index % 20 == 0:  # the playlist, as a live source rewrites it
                    s3.put_object(Bucket=info["livestream_bucket"], Key=f"{info['stream_prefix']}/{stream}/index.m3u8", Body=b"#EXTM3U\n")
            playlists = (len(kinds) + 19) // 20
            executions = observe.wait_for_executions(info, len(kinds) + playlists, timeout_s=1800)
            elapsed = time.time() - started
            latencies, by_key, playlist_runs = [], {}, []
            for execution in executions:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                key = json.loads(described["input"])["detail"]["object"]["key"]
                if key.endswith(".m3u8"):
                    playlist_runs.append(described["status"])
                    continue
                by_key.setdefault(key, []).append(described["status"])
                latencies.append((described["stopDate"] - put_at[key]).total_seconds())
            records = collections.Counter()
            for stream in {f"load-{i}" for i in range(10)}:
                for record in observe.timeline(info, stream):
                    records[record["s3_uri"].split("/", 3)[3]] += 1
            letters = collections.Counter(letter.object_key for letter in observe.dead_letters(info))
    violations = []
    for key in put_at:
        outcome = (records.get(key, 0), letters.get(key, 0))
        if outcome not in ((1, 0), (0, 1)):
            violations.append((key, outcome))
    extra_executions = len(executions) - len(put_at) - len(playlist_runs)
    if any(status != "SUCCEEDED" for status in playlist_runs):
        violations.append(("playlists", playlist_runs))
    report = {
        "machine": machine(),
        "command": f"python -m bench.load --segments {args.segments} --concurrency {args.concurrency}",
        "uploads": len(put_at),
        "mix": dict(collections.Counter(kinds)),
        "playlists_uploaded": playlists,
        "executions": len(executions),
        "records": sum(records.values()),
        "dead_letters": sum(letters.values()),
        "invariant_violations": violations,
        "executions_beyond_uploads": extra_executions,
        "elapsed_s": elapsed,
        "throughput_segments_per_s": len(put_at) / elapsed,
        "latency_p50_s": statistics.median(latencies),
        "latency_p99_s": percentile(latencies, 0.99),
    }
    ok = not violations and extra_executions == 0
    text = "\n".join([
        "# Load: a burst of good and bad segments through the local stack",
        "",
        command_line(report),
        f"Mix: {report['mix']} plus {report['playlists_uploaded']} playlist uploads (each must end at once, with no record and no dead letter).",
        "",
        "| uploads | executions | records | dead letters | invariant | elapsed | throughput | p50 upload->outcome | p99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {report['uploads']} | {report['executions']} | {report['records']} | {report['dead_letters']} "
        f"| {'holds' if ok else 'VIOLATED: ' + str(violations[:5])} | {elapsed:.1f} s | {report['throughput_segments_per_s']:.2f} segments/s "
        f"| {report['latency_p50_s']:.2f} s | {report['latency_p99_s']:.2f} s |",
        "",
        "Invariant: every `.ts` upload is exactly one record or exactly one dead-letter message; playlists end at once (`PlaylistIgnored`).",
        "Throughput is bounded by the one local endpoint (one forward pass at a time on 2 cores); latency includes queueing "
        f"behind up to {args.concurrency} executions in flight.",
        "",
    ])
    write(args.out, "load", text, report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
