"""Cost per stream-hour of each endpoint mode, from a measured service time and editable prices.

    python -m bench.cost [--service-seconds S] [--prices bench/prices.json] [--out bench/results]

A stream sends one segment every ``segment_seconds`` (10 s: 360 segments an hour).

- **instance**: an instance that serves a segment in ``S`` seconds per 4 vCPUs
  (the 2 physical cores measured here, as on an ``ml.c5.xlarge``; throughput
  assumed to grow with vCPUs) and is kept at ``utilisation`` (0.7) serves
  ``vcpus / 4 * segment_seconds * utilisation / S`` streams; ``N`` streams need
  ``max(min_instances, ceil(N / that))`` instances, billed every hour whatever
  the traffic. Cost per stream-hour = instances x price per hour / N.
- **serverless**: billed per second of invocation at the configured memory, plus
  data processed (the request and response, a few KB). Cost per stream-hour =
  360 x S x price per second (+ data), whatever N; cold starts are not billed as
  invocation time but add latency.

``S`` defaults to the median fp32 time at 1280x720 from ``bench/results/inference.json``
(one forward at a time per instance). On a serverless endpoint the CPU share grows
with memory and is not documented: the table assumes the same ``S``, which was
never measured there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from bench.report import write

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRICES = os.path.join(ROOT, "bench", "prices.json")
RESULTS = os.path.join(ROOT, "bench", "results")
STREAM_COUNTS = (1, 5, 10, 50)
REQUEST_RESPONSE_BYTES = 6 * 1024


def instance_cost_per_stream_hour(price_per_hour: float, service_s: float, streams: int, vcpus: int = 4,
                                  segment_s: float = 10.0, utilisation: float = 0.7, min_instances: int = 1) -> float:
    per_instance = vcpus / 4.0 * segment_s * utilisation / service_s
    instances = max(min_instances, math.ceil(streams / per_instance))
    return instances * price_per_hour / streams


def serverless_cost_per_stream_hour(price_per_second: float, service_s: float, segment_s: float = 10.0,
                                    per_gb_processed: float = 0.0) -> float:
    segments = 3600.0 / segment_s
    return segments * (service_s * price_per_second + REQUEST_RESPONSE_BYTES / 1e9 * per_gb_processed)


def measured_service_seconds(segment: str = "bikes 1280x720") -> float:
    with open(os.path.join(RESULTS, "inference.json")) as handle:
        return json.load(handle)["segments"][segment]["fp32"]["median"]


def table(prices: dict, service_s: float, memory_mb: str = "6144") -> str:
    lines = [
        f"Service time per segment S = {service_s:.3f} s; 10-second segments (360 an hour per stream); "
        "instances kept at 70% utilisation, at least 1; throughput per instance assumed proportional to its vCPUs "
        "(S measured on 2 cores, taken as 4 vCPUs). GPU instances are left out: their service time was never measured.",
        "",
        "| mode | " + " | ".join(f"{n} stream{'s' if n > 1 else ''}" for n in STREAM_COUNTS) + " |",
        "| --- | " + " | ".join("---" for _ in STREAM_COUNTS) + " |",
    ]
    for instance, price in prices["instance_per_hour"].items():
        vcpus = prices["instance_vcpus"][instance]
        cells = [f"${instance_cost_per_stream_hour(price, service_s, n, vcpus):.4f}" for n in STREAM_COUNTS]
        lines.append(f"| instance {instance} (${price}/h) | " + " | ".join(cells) + " |")
    per_second = prices["serverless_per_second_by_memory_mb"][memory_mb]
    cost = serverless_cost_per_stream_hour(per_second, service_s, per_gb_processed=prices.get("serverless_per_gb_processed", 0.0))
    lines.append(f"| serverless {memory_mb} MB (${per_second}/s) | " + " | ".join(f"${cost:.4f}" for _ in STREAM_COUNTS) + " |")
    lines += ["", f"Prices: {prices['_source']}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service-seconds", type=float, help="default: fp32 median at 1280x720 from bench/results/inference.json")
    parser.add_argument("--prices", default=PRICES)
    parser.add_argument("--memory-mb", default="6144")
    parser.add_argument("--out", help="also write cost.md there")
    args = parser.parse_args(argv)
    with open(args.prices) as handle:
        prices = json.load(handle)
    service_s = args.service_seconds or measured_service_seconds()
    text = "# Cost per stream-hour\n\nCommand: `python -m bench.cost" + (
        f" --service-seconds {args.service_seconds}" if args.service_seconds else "") + "`\n\n" + table(prices, service_s, args.memory_mb)
    if args.out:
        write(args.out, "cost", text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
