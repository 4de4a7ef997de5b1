"""FFmpeg's decoder threads for a worker: one thread against FFmpeg's own choice, with every core busy.

    python -m bench.decode_threads [--rounds 5] [--reads 4] [--out bench/results]

What :func:`inference.video.decoder_threads` decides. An endpoint runs one worker per
vCPU (``OMP_NUM_THREADS=1`` each), so while it is busy every core decodes a segment
of its own; FFmpeg's frame threads then compete with the other workers. Two pools
of worker processes, one per usable core in each, with the environment MMS gives its
workers: pool "one thread" as the endpoint's rule sets it (workers = the cores, one
OpenMP thread each: the reader decodes single-threaded), pool "FFmpeg's choice" as
one worker with every core (the reader lets FFmpeg choose). Each round, each pool in
turn (the order alternates) has all its workers read the clip of the same segment
``--reads`` times at once: segments/s = reads x workers / wall time. Also timed: one
read with the other workers idle (a lone request's decode). Decoding only (the
reader's ``read`` of the centre clip at 340x256); no model.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from bench.inference import CLIP_LENGTH, FRAME_STEP, cut_bench_segments
from bench.report import command_line, machine, write
from contracts.environment import MMS_WORKERS, OMP_THREADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE, AUTO = "one thread", "FFmpeg's choice"


def _worker(connection) -> None:
    from inference.sampling import clip_frame_indices
    from inference.video import SegmentReader, decoder_threads

    connection.send(decoder_threads())
    while True:
        message = connection.recv()
        if message is None:
            return
        path, reads = message
        started = time.perf_counter()
        for _ in range(reads):
            with SegmentReader(path) as segment:
                (indices,) = clip_frame_indices(segment.facts.frame_count, CLIP_LENGTH, FRAME_STEP, 1)
                segment.read(indices, size=(340, 256))
        connection.send(time.perf_counter() - started)


def _pool(size: int, environment: dict[str, str]) -> tuple[list[tuple[Any, Any]], int]:
    """``size`` workers started with ``environment``, and the decoder threads they chose."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        pool = []
        for _ in range(size):
            parent, child = mp.get_context("spawn").Pipe()
            process = mp.get_context("spawn").Process(target=_worker, args=(child,), daemon=True)
            process.start()
            pool.append((process, parent))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    threads = {connection.recv() for _, connection in pool}
    if len(threads) != 1:
        raise RuntimeError(f"the workers of one pool chose different decoder threads: {sorted(threads)}")
    return pool, threads.pop()


def _busy(pool, path: str, reads: int) -> float:
    """Segments per second with every worker of ``pool`` reading ``path`` ``reads`` times at once."""
    started = time.perf_counter()
    for _, connection in pool:
        connection.send((path, reads))
    for _, connection in pool:
        connection.recv()
    return reads * len(pool) / (time.perf_counter() - started)


def _alone(pool, path: str) -> float:
    _, connection = pool[0]
    connection.send((path, 1))
    return connection.recv()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=4, help="reads per worker per round")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        parser.error("needs at least 2 usable cores: with one, the endpoint's rule is one worker")
    pools = {
        ONE: _pool(cores, {MMS_WORKERS: str(cores), OMP_THREADS: "1"}),
        AUTO: _pool(cores, {MMS_WORKERS: "1", OMP_THREADS: str(cores)}),
    }
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        segments = cut_bench_segments(workdir)
        for round_ in range(args.rounds):
            order = list(pools) if round_ % 2 == 0 else list(reversed(list(pools)))
            for name, path in segments.items():
                for mode in order:
                    pool, _ = pools[mode]
                    row = results.setdefault(name, {}).setdefault(mode, {"busy": [], "alone": []})
                    row["busy"].append(_busy(pool, path, args.reads))
                    row["alone"].append(_alone(pool, path))
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    for pool, _ in pools.values():
        for process, connection in pool:
            connection.send(None)
            process.join(10)
    report = {
        "machine": machine(),
        "command": "python -m bench.decode_threads --rounds %d --reads %d" % (args.rounds, args.reads),
        "workers_per_pool": cores, "reads_per_worker": args.reads,
        "decoder_threads": {mode: threads for mode, (_, threads) in pools.items()},
        "segments": {
            name: {
                mode: {
                    "busy_segments_per_s": statistics.median(row["busy"]),
                    "alone_seconds": statistics.median(row["alone"]),
                    "samples": row,
                }
                for mode, row in modes.items()
            }
            for name, modes in results.items()
        },
    }
    for modes in report["segments"].values():
        one, auto = modes[ONE], modes[AUTO]
        modes["busy_ratio_one_over_auto"] = one["busy_segments_per_s"] / auto["busy_segments_per_s"]
    write(args.out, "decode-threads", markdown(report), report)
    return 0


def markdown(report: dict[str, Any]) -> str:
    threads = report["decoder_threads"]
    lines = [
        "# Decoder threads with every core busy",
        "",
        command_line(report),
        f"{report['workers_per_pool']} worker processes per pool, each reading the segment's centre clip "
        f"(32 frames at 340x256) {report['reads_per_worker']} times at once; medians over interleaved rounds. "
        f"\"one thread\": the endpoint's rule (`{MMS_WORKERS}` = the cores, `{OMP_THREADS}=1`), decoder threads {threads[ONE]}; "
        f"\"FFmpeg's choice\": one worker with every core, decoder threads {threads[AUTO]} "
        "(FFmpeg picks). \"alone\": one read with the other workers idle.",
        "",
        "| segment | busy seg/s, one thread | busy seg/s, FFmpeg's choice | one thread / FFmpeg's choice | alone (s), one thread | alone (s), FFmpeg's choice |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, modes in report["segments"].items():
        one, auto = modes[ONE], modes[AUTO]
        lines.append(
            f"| {name} | {one['busy_segments_per_s']:.2f} | {auto['busy_segments_per_s']:.2f} "
            f"| {modes['busy_ratio_one_over_auto']:.2f}x | {one['alone_seconds']:.3f} | {auto['alone_seconds']:.3f} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
