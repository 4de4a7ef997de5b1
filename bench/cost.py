"""Cost per stream-hour of each endpoint mode, from measured service times and editable prices.

    python -m bench.cost [--service-seconds S --measured-vcpus V] [--serverless-seconds L]
                         [--prices bench/prices.json] [--memory-mb 6144] [--out bench/results]

A stream sends one segment every ``segment_seconds`` (10 s: 360 segments an hour).

- **instance**: the endpoint as deployed (MMS + the SageMaker MXNet toolkit with
  the default workers rule) serves one segment every ``S`` seconds with its
  workers busy, measured on ``V`` vCPUs; an instance of ``vcpus`` is assumed to
  serve ``vcpus / V`` times that (one worker per vCPU; never measured beyond
  ``V``). Kept at the autoscaling headroom (0.7, ``infra.model_endpoint``), it
  serves ``vcpus / V * segment_seconds * 0.7 / S`` streams (with
  ``autoscalingTargetInvocations`` set to ``autoscaling_target`` of that rate;
  a lower target adds instances sooner and costs more); ``N`` streams need
  ``max(min_instances, ceil(N / that))`` instances, billed every hour whatever
  the traffic. Cost per stream-hour = instances x price per hour / N.
- **serverless**: billed per second of invocation at the configured memory, plus
  data processed (the request and response, a few KB). Cost per stream-hour =
  360 x L x price per second (+ data), whatever N, where ``L`` is one request's
  latency with one worker and the toolkit's one thread (serverless mode's
  environment); cold starts are not billed as invocation time but add latency.

``S``, ``V`` and ``L`` default to ``bench/results/serving.json`` at 1280x720:
``S`` = 1 / the best segments/s at its highest concurrency, ``V`` = the cores of
the machine that measured it, ``L`` = the 1x1 p50 at concurrency 1. On a
serverless endpoint the CPU share grows with memory and is not documented: the
table assumes ``L``, which was never measured there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from bench.report import write
from infra.model_endpoint import AUTOSCALING_HEADROOM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRICES = os.path.join(ROOT, "bench", "prices.json")
RESULTS = os.path.join(ROOT, "bench", "results")
STREAM_COUNTS = (1, 5, 10, 50)
REQUEST_RESPONSE_BYTES = 6 * 1024


def instance_cost_per_stream_hour(price_per_hour: float, service_s: float, streams: int, vcpus: int = 4,
                                  measured_vcpus: int | None = None, segment_s: float = 10.0,
                                  utilisation: float = AUTOSCALING_HEADROOM, min_instances: int = 1) -> float:
    """``service_s`` per segment measured on ``measured_vcpus`` (default: an instance of ``vcpus``)."""
    per_instance = vcpus / (measured_vcpus or vcpus) * segment_s * utilisation / service_s
    instances = max(min_instances, math.ceil(streams / per_instance))
    return instances * price_per_hour / streams


def serverless_cost_per_stream_hour(price_per_second: float, service_s: float, segment_s: float = 10.0,
                                    per_gb_processed: float = 0.0) -> float:
    segments = 3600.0 / segment_s
    return segments * (service_s * price_per_second + REQUEST_RESPONSE_BYTES / 1e9 * per_gb_processed)


SEGMENT = "1280x720"


def measured_serving(path: str = os.path.join(RESULTS, "serving.json"), segment: str = SEGMENT) -> dict[str, float]:
    """``S`` (service time with the workers busy), ``V`` (vCPUs it was measured on) and ``L``
    (one request's latency, one worker and one thread) from bench.serving's result."""
    with open(path) as handle:
        report = json.load(handle)
    best = report.get("best", {})
    latencies = [row["p50_s"] for row in report["rows"]
                 if row["resolution"] == segment and row["setting"] == "1x1" and row["concurrency"] == 1]
    if segment not in best or not latencies:
        raise ValueError(f"{path} has no {segment} result with setting 1x1 at concurrency 1 "
                         "(run `python -m bench.serving` with its default settings, "
                         "or pass --service-seconds, --measured-vcpus and --serverless-seconds)")
    return {"service_s": best[segment]["service_time_s"], "measured_vcpus": report["machine"]["usable_cores"],
            "serverless_s": latencies[0]}


def table(prices: dict, service_s: float, measured_vcpus: int, serverless_s: float, memory_mb: str = "6144") -> str:
    lines = [
        f"Instances: service time per segment S = {service_s:.3f} s with the workers busy, measured on "
        f"{measured_vcpus} vCPUs (an instance's throughput assumed proportional to its vCPUs), kept at "
        f"{AUTOSCALING_HEADROOM:.0%} of that (the autoscaling target set from the same rate), at least 1. Serverless: L = {serverless_s:.3f} s per invocation "
        "(one request at a time, one worker). 10-second segments (360 an hour per stream). "
        "GPU instances are left out: their service time was never measured.",
        "",
        "| mode | " + " | ".join(f"{n} stream{'s' if n > 1 else ''}" for n in STREAM_COUNTS) + " |",
        "| --- | " + " | ".join("---" for _ in STREAM_COUNTS) + " |",
    ]
    for instance, price in prices["instance_per_hour"].items():
        vcpus = prices["instance_vcpus"][instance]
        cells = [f"${instance_cost_per_stream_hour(price, service_s, n, vcpus, measured_vcpus):.4f}" for n in STREAM_COUNTS]
        lines.append(f"| instance {instance} (${price}/h) | " + " | ".join(cells) + " |")
    per_second = prices["serverless_per_second_by_memory_mb"][memory_mb]
    cost = serverless_cost_per_stream_hour(per_second, serverless_s, per_gb_processed=prices.get("serverless_per_gb_processed", 0.0))
    lines.append(f"| serverless {memory_mb} MB (${per_second}/s) | " + " | ".join(f"${cost:.4f}" for _ in STREAM_COUNTS) + " |")
    lines += ["", f"Prices: {prices['_source']}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service-seconds", type=float, help="S; default: from bench/results/serving.json")
    parser.add_argument("--measured-vcpus", type=int, help="V, the vCPUs S was measured on; default: from serving.json")
    parser.add_argument("--serverless-seconds", type=float, help="L; default: from serving.json")
    parser.add_argument("--prices", default=PRICES)
    parser.add_argument("--memory-mb", default="6144")
    parser.add_argument("--out", help="also write cost.md there")
    args = parser.parse_args(argv)
    with open(args.prices) as handle:
        prices = json.load(handle)
    given = {"service_s": args.service_seconds, "measured_vcpus": args.measured_vcpus, "serverless_s": args.serverless_seconds}
    if any(value is not None and value <= 0 for value in given.values()):
        parser.error("--service-seconds, --measured-vcpus and --serverless-seconds must be positive")
    try:
        measured = measured_serving() if None in given.values() else {}
    except (OSError, ValueError) as error:
        parser.error(str(error))
    service_s, measured_vcpus, serverless_s = (measured[name] if value is None else value for name, value in given.items())
    command = "python -m bench.cost" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]) if a)
    text = f"# Cost per stream-hour\n\nCommand: `{command}`\n\n" + table(prices, service_s, measured_vcpus, serverless_s, args.memory_mb)
    if args.out:
        write(args.out, "cost", text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
