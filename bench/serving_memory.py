"""Memory of the endpoint through AWS's serving stack over many requests (issue 10, item 2).

    python -m bench.serving_memory [--requests 150]

The former local endpoint (``inference.server``, a thread per connection)
grew by 27-29 MB per request on a new connection and never gave it back. The
endpoint is now what AWS runs: Multi Model Server + the SageMaker MXNet toolkit
(:class:`devstack.model_server.ModelServer`, from the built ``model.tar.gz``,
one worker, as the local stack runs it), reading a 640x272 segment from
a local S3 (moto). Each request opens a new connection. The resident memory of
every process of the stack (toolkit, MMS's Java front end, its Python workers)
is summed after the first request and at checkpoints. Writes
``bench/results/serving-memory.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import requests

from bench.inference import ROOT
from bench.report import command_line, machine

MODEL_DIR = os.path.join(ROOT, "model", "artifacts")
BUCKET = "bench-memory"
KEY = "live/bench/segment_00000.ts"
MIB = 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--model-dir", default=MODEL_DIR)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args(argv)

    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from contracts.environment import EndpointEnvironment
    from devstack.model_server import ModelServer, mms_port
    from infra.archives import ENTRY_MODULE, build_model_archive
    from videos.samples import cut_segments, sample_path

    report: dict[str, Any] = {"machine": machine(), "command": "python -m bench.serving_memory " + " ".join(argv or sys.argv[1:]),
                              "requests": args.requests, "checkpoints": []}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir:
        segment = cut_segments(sample_path("bikes.mp4"), workdir)[0]
        port = mms_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        s3_url = f"http://127.0.0.1:{port}"
        try:
            s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
            s3.create_bucket(Bucket=BUCKET)
            s3.upload_file(segment, BUCKET, KEY)
            environment = {
                "SAGEMAKER_PROGRAM": ENTRY_MODULE,
                "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                **EndpointEnvironment(allowed_buckets=(BUCKET,), max_segment_bytes=64 * MIB, max_segment_seconds=30.0,
                                      max_frame_pixels=1920 * 1088).to_environ(),
            }
            extra = {"AWS_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                     "AWS_DEFAULT_REGION": "us-east-1"}
            archive = build_model_archive(args.model_dir)
            with ModelServer.from_archive(archive, os.path.join(workdir, "opt-ml"), environment, extra_env=extra) as server:
                body = json.dumps({"s3_uri": f"s3://{BUCKET}/{KEY}"})
                checkpoints = sorted({1, 10, 25, 50, 75, 100, 125, args.requests} & set(range(1, args.requests + 1)))
                started = time.perf_counter()
                for n in range(1, args.requests + 1):
                    # A new connection per request (no Session), as the former server's leak needed.
                    reply = requests.post(server.url + "/invocations", data=body,
                                          headers={"Content-Type": "application/json", "Connection": "close"}, timeout=300)
                    if reply.status_code != 200:
                        raise RuntimeError(f"request {n}: {reply.status_code} {reply.text[:300]}")
                    if n in checkpoints:
                        sizes = server.rss_bytes()
                        row = {"requests": n, "rss_mib": round(sum(sizes.values()) / MIB),
                               "processes": len(sizes), "elapsed_s": round(time.perf_counter() - started, 1)}
                        report["checkpoints"].append(row)
                        print(row, file=sys.stderr, flush=True)
        finally:
            moto.stop()
    summarise(report)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "serving-memory.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    with open(os.path.join(args.out, "serving-memory.md"), "w") as handle:
        handle.write(markdown(report))
    print(markdown(report))
    return 0


def summarise(report: dict[str, Any]) -> None:
    """Growth from the first request, and from the 10th (after the first requests' warm-up) to the last."""
    rows = report["checkpoints"]
    first, last = rows[0], rows[-1]
    warm = next((row for row in rows if row["requests"] >= 10), first)
    report["growth_mib"] = last["rss_mib"] - first["rss_mib"]
    report["warm_growth_mib"] = last["rss_mib"] - warm["rss_mib"]
    report["warm_growth_mib_per_request"] = round(report["warm_growth_mib"] / max(1, last["requests"] - warm["requests"]), 3)
    report["warm_from_request"] = warm["requests"]


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Endpoint memory over many requests: MMS + SageMaker MXNet toolkit",
        "",
        command_line(report),
        "One worker, a 640x272 segment from a local S3 (moto), a new connection per request, one request at a time.",
        "RSS: the sum over the stack's processes (toolkit, MMS's Java front end, its Python workers).",
        "",
        "| requests | RSS (MiB) | processes | elapsed (s) |",
        "| --- | --- | --- | --- |",
    ]
    for row in report["checkpoints"]:
        lines.append(f"| {row['requests']} | {row['rss_mib']} | {row['processes']} | {row['elapsed_s']} |")
    lines += [
        "",
        f"Growth from the first request to the last: {report['growth_mib']} MiB, most of it during the first requests "
        f"(buffers and caches of the first decode and forward); from request {report['warm_from_request']} to the last: "
        f"{report['warm_growth_mib']} MiB ({report['warm_growth_mib_per_request']} MiB per request). "
        "The former `inference.server` grew by 27-29 MB per request and never gave it back.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
