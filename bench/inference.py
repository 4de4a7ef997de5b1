"""Inference speed: the seed's path against ours, per segment, decode + sample + forward (download excluded).

    python -m bench.inference [--rounds 5] [--out bench/results] [--max-cpu-isa AVX2]

Each path runs in its own worker process (so each keeps its own MXNet settings:
the seed's path runs with MXNet's defaults, no OMP_NUM_THREADS), and the
coordinator interleaves them: round r runs every segment on every path before
round r+1. Reported: min and median seconds per segment, ratios against the
seed's path measured in the same run, and the lower bound (decode alone
plus forward alone). Writes ``inference.md`` and ``inference.json``.

The int8 ratio depends on the CPU's vector extensions more than anything else:
oneDNN's int8 kernels are several times faster with VNNI (AVX-512 VNNI,
AVX-VNNI) than with AVX2 alone. The report names the ISA oneDNN ran.
``--max-cpu-isa AVX2`` caps oneDNN at that ISA in every process of the run
(``DNNL_MAX_CPU_ISA``, seed's path included), as on an instance without VNNI,
and writes ``inference-avx2.md`` / ``.json`` instead.

Paths:
  (a) seed  decord VideoReader(width=340, height=256) + GluonCV VideoClsCustom test
            sampling + VideoGroupValTransform + a plain SymbolBlock (MXNet defaults)
  (b) fp32  ours: PyAV decoding from the last IDR before the clip, unkept non-reference frames
            skipped, scaled to 340x256 by swscale; our transforms; the graph with its unused
            work folded away (inference/graph.py), hybridized with the MKLDNN backend
  (c) int8  ours, the model `python -m model export --precision int8 --calibrate` writes
            (MXNet's quantize_net, oneDNN), calibrated on the benchmark's segments
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from bench.report import command_line, machine, write
from inference.sampling import clip_frame_indices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "model", "artifacts")
CLIP_LENGTH, FRAME_STEP = 32, 2
#: oneDNN's ``DNNL_MAX_CPU_ISA`` values below AVX-512 VNNI that an instance may be limited to.
ONEDNN_ISAS = ("AVX2", "AVX512_CORE")


# --- workers -------------------------------------------------------------------------------


def _seed_worker(connection, model_dir: str) -> None:
    import mxnet as mx  # before decord: the other order crashes
    import numpy as np
    from types import SimpleNamespace

    import decord
    from gluoncv.data.transforms.video import VideoGroupValTransform
    from gluoncv.data.video_custom.classification import VideoClsCustom

    net = mx.gluon.SymbolBlock.imports(
        os.path.join(model_dir, "model-symbol.json"), ["data"], os.path.join(model_dir, "model-0000.params"), ctx=mx.cpu()
    )
    transform = VideoGroupValTransform(size=224, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    sampler = SimpleNamespace(skip_length=CLIP_LENGTH * FRAME_STEP, num_segments=1, temporal_jitter=False, new_step=FRAME_STEP)
    connection.send("ready")
    while True:
        message = connection.recv()
        if message is None:
            return
        path = message
        started = time.perf_counter()
        try:
            reader = decord.VideoReader(path, width=340, height=256, num_threads=1)
            duration = len(reader)
            offsets, skips = VideoClsCustom._sample_test_indices(sampler, duration)
            frames = VideoClsCustom._video_TSN_decord_batch_loader(sampler, path, reader, duration, offsets, skips)
        except Exception as error:  # the seed's reader fails on some segments: report, do not time
            connection.send({"seconds": None, "error": str(error).split(" from video")[0][:120]})
            continue
        clip = np.stack(transform(frames)).transpose(1, 0, 2, 3)[np.newaxis].astype("float32")
        probabilities = mx.nd.softmax(net(mx.nd.array(clip)), axis=-1).asnumpy()[0]
        connection.send({"seconds": time.perf_counter() - started, "top5": np.argsort(-probabilities)[:5].tolist()})


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux keeps that across
    exec, so a worker would report its parent's peak (the parent exports the int8 model)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _our_worker(connection, model_dir: str, warm_path: str) -> None:
    from inference.clips import ClipReader
    from inference.predictor import Predictor
    from contracts.environment import EndpointEnvironment
    from inference.service import InferenceService, Limits
    from inference.video import SegmentReader

    predictor = Predictor(model_dir)
    service = InferenceService(model_dir, limits=Limits(EndpointEnvironment(
        allowed_buckets=(), max_segment_bytes=1024 ** 3, max_segment_seconds=60, max_frame_pixels=4096 * 2160
    ).to_environ()),
                               predictor=predictor)
    reader = ClipReader(predictor.manifest)
    predictor.probabilities(reader.read(warm_path).tensors[0])  # build the static graph before timing
    connection.send("ready")
    while True:
        message = connection.recv()
        if message is None:
            return
        kind, path = message
        if kind == "full":
            started = time.perf_counter()
            response = service.analyse_file(path, "file://" + path, os.path.getsize(path), top_k=5)
            seconds = time.perf_counter() - started
            top5 = [predictor.classes.index(entry["label"]) for entry in response["top_k"]]
            connection.send({"seconds": seconds, "top5": top5, "rss_mb": peak_rss_mb()})
        elif kind == "decode":
            started = time.perf_counter()
            with SegmentReader(path) as segment:
                (indices,) = clip_frame_indices(segment.facts.frame_count, CLIP_LENGTH, FRAME_STEP, 1)
                segment.read(indices, size=reader.size)
            connection.send({"seconds": time.perf_counter() - started})
        elif kind == "forward":
            (clip,) = reader.read(path).tensors
            started = time.perf_counter()
            predictor.probabilities(clip)
            connection.send({"seconds": time.perf_counter() - started})


def _start(target, args, env_changes: dict[str, str | None]):
    saved = {k: os.environ.get(k) for k in env_changes}
    for key, value in env_changes.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    parent, child = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=target, args=(child, *args), daemon=True)
    process.start()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    assert parent.recv() == "ready"
    return process, parent


# --- coordinator ---------------------------------------------------------------------------


def cut_bench_segments(workdir: str) -> dict[str, str]:
    from videos.samples import cut_segments, sample_path

    bikes = sample_path("bikes.mp4")
    return {
        "bikes 640x272": cut_segments(bikes, os.path.join(workdir, "272"))[0],
        "bikes 1280x720": cut_segments(bikes, os.path.join(workdir, "720"), scale="1280:720")[0],
        "bikes 1920x1080": cut_segments(bikes, os.path.join(workdir, "1080"), scale="1920:1080")[0],
        "bunny 1280x720 +audio": cut_segments(sample_path("bigbuckbunny.mp4"), os.path.join(workdir, "bunny"), audio=True)[0],
    }


def export_int8(model_dir: str, paths: list[str], workdir: str) -> str:
    """The deployable int8 model, as ``python -m model export --precision int8 --calibrate`` writes it.

    Calibrated on all but the last segment, checked on the last one (thresholds off:
    this run measures speed; the agreement is reported, not enforced).
    """
    from model.quantize import quantize_model

    clips_dir = os.path.join(workdir, "calibration")
    os.makedirs(clips_dir)
    for number, path in enumerate(paths):
        shutil.copyfile(path, os.path.join(clips_dir, "%02d.ts" % number))
    out = os.path.join(workdir, "int8")
    quantize_model(model_dir, out, clips_dir, holdout_every=len(paths), min_top1_agreement=0.0, min_top5_overlap=0.0)
    return out


def summarise(samples: list[float]) -> dict[str, float]:
    return {"min": min(samples), "median": statistics.median(samples), "n": len(samples)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--model-dir", default=MODEL_DIR)
    parser.add_argument("--max-cpu-isa", choices=ONEDNN_ISAS,
                        help="cap oneDNN's ISA in every process of the run (DNNL_MAX_CPU_ISA), as on a CPU without it")
    args = parser.parse_args(argv)
    result_name, command = "inference", "python -m bench.inference --rounds %d" % args.rounds
    if args.max_cpu_isa:
        os.environ["DNNL_MAX_CPU_ISA"] = args.max_cpu_isa  # inherited by every worker and the probe
        result_name += "-" + args.max_cpu_isa.lower()
        command += " --max-cpu-isa " + args.max_cpu_isa
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        segments = cut_bench_segments(workdir)
        paths = list(segments.values())
        int8_dir = export_int8(args.model_dir, paths, workdir)
        seed = _start(_seed_worker, (args.model_dir,), {"OMP_NUM_THREADS": None})
        fp32 = _start(_our_worker, (args.model_dir, paths[0]), {})
        int8 = _start(_our_worker, (int8_dir, paths[0]), {})
        timings: dict[str, dict[str, list[float]]] = {name: {} for name in segments}
        agreement = {"top1": 0, "top5": 0, "n": 0}
        errors: dict[str, str] = {}
        rss = rss_int8 = 0.0
        for round_ in range(args.rounds):
            for name, path in segments.items():
                seed[1].send(path)
                a = seed[1].recv()
                fp32[1].send(("full", path))
                b = fp32[1].recv()
                int8[1].send(("full", path))
                c = int8[1].recv()
                fp32[1].send(("decode", path))
                decode = fp32[1].recv()
                fp32[1].send(("forward", path))
                forward = fp32[1].recv()
                row = timings[name]
                if a["seconds"] is None:
                    errors[name] = a["error"]
                for key, value in (("seed", a["seconds"]), ("fp32", b["seconds"]), ("int8", c["seconds"]),
                                   ("decode", decode["seconds"]), ("forward", forward["seconds"])):
                    if value is not None:
                        row.setdefault(key, []).append(value)
                rss = max(rss, b["rss_mb"])
                rss_int8 = max(rss_int8, c["rss_mb"])
                if round_ == 0:
                    agreement["n"] += 1
                    agreement["top1"] += int(b["top5"][0] == c["top5"][0])
                    agreement["top5"] += int(b["top5"][0] in c["top5"])
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
        for process, connection in (seed, fp32, int8):
            connection.send(None)
            process.join(10)
        with open(os.path.join(int8_dir, "quantization.json")) as handle:
            int8_report = json.load(handle)
    report = {"machine": machine(with_onednn=True), "command": command,
              "rounds": args.rounds, "segments": {}, "int8_agreement_with_fp32": agreement,
              "serving_peak_rss_mb": round(rss, 1), "serving_peak_rss_mb_int8": round(rss_int8, 1), "seed_errors": errors,
              "int8_export_report": int8_report}
    for name, row in timings.items():
        stats = {key: summarise(values) for key, values in row.items()}
        lower = stats["decode"]["median"] + stats["forward"]["median"]
        stats["lower_bound_median"] = lower
        if "seed" in stats:
            stats["speedup_fp32_vs_seed"] = stats["seed"]["median"] / stats["fp32"]["median"]
            stats["speedup_int8_vs_seed"] = stats["seed"]["median"] / stats["int8"]["median"]
        stats["fp32_over_lower_bound"] = stats["fp32"]["median"] / lower
        report["segments"][name] = stats
    write(args.out, result_name, markdown(report), report)
    return 0


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Inference benchmark",
        "",
        command_line(report),
        "The machine is shared with other work (see the load average): absolute times vary between runs; "
        "the ratios, measured within one run on interleaved rounds, are what counts.",
        "Per segment: decode + sample + preprocess + forward of the centre clip (32 frames, step 2); download excluded.",
        f"{report['rounds']} interleaved rounds; seconds, median (min). Random weights (speed does not depend on them).",
        "",
        "| segment | (a) seed | (b) ours fp32 | (c) ours int8 | lower bound (decode + forward) | (a)/(b) | (a)/(c) | (b)/lower |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in report["segments"].items():
        seed = f"{s['seed']['median']:.3f} ({s['seed']['min']:.3f})" if "seed" in s else "fails*"
        ratio_b = f"{s['speedup_fp32_vs_seed']:.2f}x" if "seed" in s else "n/a"
        ratio_c = f"{s['speedup_int8_vs_seed']:.2f}x" if "seed" in s else "n/a"
        lines.append(
            f"| {name} | {seed} | {s['fp32']['median']:.3f} ({s['fp32']['min']:.3f}) "
            f"| {s['int8']['median']:.3f} ({s['int8']['min']:.3f}) | {s['lower_bound_median']:.3f} "
            f"| {ratio_b} | {ratio_c} | {s['fp32_over_lower_bound']:.2f}x |"
        )
    for name, error in report.get("seed_errors", {}).items():
        lines.append(f"\n\\* the seed's path fails on {name}: `{error}`")
    a = report["int8_agreement_with_fp32"]
    lines += [
        "",
        f"int8 vs fp32 on these {a['n']} clips: top-1 agreement {a['top1']}/{a['n']}, fp32 top-1 within int8 top-5 {a['top5']}/{a['n']} "
        "(random weights make near-uniform scores, so agreement here says little about a trained model).",
        f"Peak RSS of the serving worker: fp32 {report['serving_peak_rss_mb']:.0f} MB, int8 {report['serving_peak_rss_mb_int8']:.0f} MB.",
        f"The int8 model is the one `python -m model export --precision int8 --calibrate` writes (calibrated on the first "
        f"{report['int8_export_report']['calibration_clips']} segments, held-out top-1 agreement "
        f"{report['int8_export_report']['top1_agreement']:.2f}).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
