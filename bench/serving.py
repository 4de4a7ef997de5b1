"""Throughput and latency through AWS's serving stack, by workers x threads (issue 12, item 3).

    python -m bench.serving [--settings 1x2,2x1,1x1] [--concurrency 1,2,4,8] [--clips 1]

The endpoint as the container runs it: Multi Model Server + the SageMaker MXNet
toolkit (:class:`devstack.model_server.ModelServer`, from the built
``model.tar.gz``), with ``SAGEMAKER_MODEL_SERVER_WORKERS`` x ``OMP_NUM_THREADS``
from each setting (``WxT``), reading segments from a local S3 (moto). For each
setting, resolution (640x272, 1280x720, 1920x1080) and concurrency, a fixed
number of requests is sent by that many clients at once (a warm-up request
first); measured per request: the latency at the client. Reported: segments/s,
p50 and p99 latency (with few requests the p99 is the slowest one; the count is
in the table), and the peak resident memory of each worker process (the
model's copy, its decode buffers).

Writes bench/results/serving.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.inference import ROOT, cut_bench_segments
from bench.report import command_line, machine, write
from infra.model_endpoint import AUTOSCALING_HEADROOM, autoscaling_target

MODEL_DIR = os.path.join(ROOT, "model", "artifacts")
BUCKET = "bench-serving"
MIB = 2**20
RESOLUTIONS = ("bikes 640x272", "bikes 1280x720", "bikes 1920x1080")


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0-100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def requests_at(concurrency: int) -> int:
    """Requests sent at one concurrency: enough for every client to send several."""
    return max(6, 3 * concurrency)


class PeakRss:
    """Samples each worker's resident memory while a load runs; keeps the peak per worker."""

    def __init__(self, server: Any):
        self.server, self.peak = server, 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(0.2):
            self._sample()

    def _sample(self) -> None:
        workers = set(self.server.worker_pids())
        sizes = self.server.rss_bytes()
        for pid in workers:
            self.peak = max(self.peak, sizes.get(pid, 0))

    def __enter__(self) -> "PeakRss":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        self._sample()


def load(url: str, body: str, concurrency: int, count: int) -> tuple[list[float], float]:
    """``count`` requests from ``concurrency`` clients at once; (latencies, wall seconds)."""
    import requests

    sessions = threading.local()

    def one(_):
        session = getattr(sessions, "session", None) or requests.Session()
        sessions.session = session
        started = time.perf_counter()
        reply = session.post(url + "/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=600)
        if reply.status_code != 200:
            raise RuntimeError(f"{reply.status_code}: {reply.text[:300]}")
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(count)))
    return latencies, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="1x2,2x1,1x1", help="WORKERSxTHREADS, comma-separated")
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--clips", type=int, default=1, help="clips per segment in each request")
    parser.add_argument("--model-dir", default=MODEL_DIR)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args(argv)
    settings = [tuple(int(part) for part in setting.split("x")) for setting in args.settings.split(",")]
    levels = [int(level) for level in args.concurrency.split(",")]

    import logging

    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log would bury the results

    from contracts.environment import EndpointEnvironment
    from devstack.model_server import ModelServer, mms_port
    from infra.archives import ENTRY_MODULE, build_model_archive

    report: dict[str, Any] = {"machine": machine(with_onednn=True), "command": "python -m bench.serving " + " ".join(argv or sys.argv[1:]),
                              "clips": args.clips, "rows": [], "workers": []}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as workdir:
        segments = {name: path for name, path in cut_bench_segments(workdir).items() if name in RESOLUTIONS}
        port = mms_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        s3_url = f"http://127.0.0.1:{port}"
        try:
            s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
            s3.create_bucket(Bucket=BUCKET)
            for name, path in segments.items():
                s3.upload_file(path, BUCKET, f"live/bench/{name.split()[-1]}.ts")
            archive = build_model_archive(args.model_dir)
            extra = {"AWS_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                     "AWS_DEFAULT_REGION": "us-east-1"}
            for workers, threads in settings:
                environment = {
                    "SAGEMAKER_PROGRAM": ENTRY_MODULE,
                    "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
                    "OMP_NUM_THREADS": str(threads),
                    "MMS_JOB_QUEUE_SIZE": str(4 * max(levels)),
                    **EndpointEnvironment(allowed_buckets=(BUCKET,), max_segment_bytes=64 * MIB, max_segment_seconds=30.0,
                                          max_frame_pixels=1920 * 1088).to_environ(),
                }
                base = os.path.join(workdir, f"opt-ml-{workers}x{threads}")
                with ModelServer.from_archive(archive, base, environment, extra_env=extra) as server, PeakRss(server) as rss:
                    for name in RESOLUTIONS:
                        body = json.dumps({"s3_uri": f"s3://{BUCKET}/live/bench/{name.split()[-1]}.ts", "clips": args.clips})
                        load(server.url, body, workers, workers)  # warm-up: each worker's first decode and forward
                        for concurrency in levels:
                            count = requests_at(concurrency)
                            latencies, wall = load(server.url, body, concurrency, count)
                            row = {"setting": f"{workers}x{threads}", "workers": workers, "threads": threads,
                                   "resolution": name.split()[-1], "concurrency": concurrency, "requests": count,
                                   "segments_per_s": round(count / wall, 3),
                                   "p50_s": round(statistics.median(latencies), 3),
                                   "p99_s": round(percentile(latencies, 99), 3)}
                            report["rows"].append(row)
                            print(row, file=sys.stderr, flush=True)
                report["workers"].append({"setting": f"{workers}x{threads}", "peak_worker_rss_mib": round(rss.peak / MIB)})
        finally:
            moto.stop()
    summarise(report)
    write(args.out, "serving", markdown(report), report)
    return 0


def summarise(report: dict[str, Any]) -> None:
    """Per resolution: the setting with the most segments/s at the highest concurrency, and its service time."""
    best: dict[str, Any] = {}
    top = max(row["concurrency"] for row in report["rows"])
    for row in report["rows"]:
        if row["concurrency"] != top:
            continue
        if row["resolution"] not in best or row["segments_per_s"] > best[row["resolution"]]["segments_per_s"]:
            best[row["resolution"]] = row
    report["best"] = {resolution: {"setting": row["setting"], "segments_per_s": row["segments_per_s"],
                                   "service_time_s": round(1 / row["segments_per_s"], 3),
                                   "autoscaling_target": autoscaling_target(row["segments_per_s"])}
                      for resolution, row in best.items()}


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Serving: MMS + SageMaker MXNet toolkit, workers x threads",
        "",
        command_line(report),
        "",
        f"`WxT`: `SAGEMAKER_MODEL_SERVER_WORKERS` x `OMP_NUM_THREADS`. clips={report['clips']} per request; "
        "latency at the client; p99 is nearest-rank over the requests counted (with few requests, the slowest).",
        "",
        "| setting | resolution | concurrency | requests | segments/s | p50 (s) | p99 (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["rows"]:
        lines.append(f"| {row['setting']} | {row['resolution']} | {row['concurrency']} | {row['requests']} "
                     f"| {row['segments_per_s']} | {row['p50_s']} | {row['p99_s']} |")
    lines += ["", "| setting | peak RSS per worker (MiB) |", "| --- | --- |"]
    lines += [f"| {w['setting']} | {w['peak_worker_rss_mib']} |" for w in report["workers"]]
    lines += ["", "Best at the highest concurrency: service time = 1 / segments per second; autoscaling target = "
              f"`infra.model_endpoint.autoscaling_target`: floor(60 x segments/s x {AUTOSCALING_HEADROOM}) invocations "
              f"per instance a minute, for an instance of this machine's {report['machine']['usable_cores']} vCPUs:", "",
              "| resolution | setting | segments/s | service time (s) | autoscaling target |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {resolution} | {b['setting']} | {b['segments_per_s']} | {b['service_time_s']} | {b['autoscaling_target']} |"
              for resolution, b in report["best"].items()]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
