"""int8 export: quantize an fp32 model directory, calibrated on the user's clips, checked on held-out clips.

``python -m model export ... --precision int8 --calibrate CLIPS_DIR`` runs
:func:`quantize_model`. The videos in ``CLIPS_DIR`` are split by file: every
``holdout_every``-th one (sorted by name) is held out, the others calibrate
MXNet's ``quantize_net`` (oneDNN int8, per-layer ranges from the calibration
clips). Then fp32 and int8 score every held-out clip, and the agreement report
gives

- **top-1 agreement**: the share of held-out clips whose best class is the same;
- **top-5 overlap**: the mean share of fp32's top 5 classes that int8's top 5 also holds.

Below ``min_top1_agreement`` (or ``min_top5_overlap``) nothing is written and
:class:`QuantizationRefused` carries the report. Calibration and scoring use the
serving path's own sampling and preprocessing (:class:`inference.clips.ClipReader`).
"""

import json
import os
import shutil
from typing import Any, Dict, List, Optional

from inference import runtime  # noqa: F401

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from inference.clips import ClipReader  # noqa: E402
from inference.predictor import CLASSES_FILE, INT8, PARAMS_FILE, Predictor, load_block, load_manifest, sha256_of  # noqa: E402

VIDEO_SUFFIXES = (".ts", ".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm")
REPORT_FILE = "quantization.json"
#: Defaults of the refusal thresholds (the CLI's --min-top1-agreement / --min-top5-overlap).
MIN_TOP1_AGREEMENT = 0.9
MIN_TOP5_OVERLAP = 0.8


class QuantizationRefused(Exception):
    """The int8 model disagrees with fp32 too often on the held-out clips; ``report`` says how much."""

    def __init__(self, report: Dict[str, Any], reasons: List[str]):
        self.report = report
        super().__init__("; ".join(reasons) + "; no model written")


def split_videos(clips_dir: str, holdout_every: int) -> Dict[str, List[str]]:
    """``{"calibration": [...], "held_out": [...]}``: every ``holdout_every``-th video (sorted) is held out."""
    if holdout_every < 2:
        raise ValueError("holdout_every must be at least 2 (one video in N is held out)")
    if not os.path.isdir(clips_dir):
        raise FileNotFoundError("--calibrate: {} is not a directory".format(clips_dir))
    videos = sorted(
        os.path.join(clips_dir, name) for name in os.listdir(clips_dir) if name.lower().endswith(VIDEO_SUFFIXES)
    )
    held_out = [path for i, path in enumerate(videos) if i % holdout_every == holdout_every - 1]
    calibration = [path for path in videos if path not in held_out]
    if not calibration or not held_out:
        raise ValueError(
            "--calibrate needs at least {} videos ({}) in {}: one in {} is held out to check the int8 model, "
            "the rest calibrate it; found {}".format(
                holdout_every, "/".join(VIDEO_SUFFIXES), clips_dir, holdout_every, len(videos)
            )
        )
    return {"calibration": calibration, "held_out": held_out}


def agreement(fp32: np.ndarray, int8: np.ndarray, k: int = 5) -> Dict[str, float]:
    """Top-1 agreement and mean top-``k`` overlap between two ``(clips, classes)`` score arrays."""
    top1 = float(np.mean(np.argmax(fp32, axis=1) == np.argmax(int8, axis=1)))
    overlaps = [
        len(set(np.argsort(-a)[:k].tolist()) & set(np.argsort(-b)[:k].tolist())) / float(k) for a, b in zip(fp32, int8)
    ]
    return {"top1_agreement": round(top1, 4), "top5_overlap": round(float(np.mean(overlaps)), 4)}


def _tensors(reader: ClipReader, paths: List[str], clips_per_video: int) -> np.ndarray:
    tensors = []
    for path in paths:
        tensors.extend(reader.read(path, clips_per_video).tensors)
    return np.stack(tensors)


def quantize_model(
    fp32_dir: str,
    out_dir: str,
    clips_dir: str,
    holdout_every: int = 4,
    clips_per_video: int = 1,
    min_top1_agreement: float = MIN_TOP1_AGREEMENT,
    min_top5_overlap: float = MIN_TOP5_OVERLAP,
    calib_mode: str = "naive",
    name: Optional[str] = None,
) -> Dict[str, Any]:
    """Write the int8 model directory to ``out_dir`` and return its manifest (with the report)."""
    manifest = load_manifest(fp32_dir)
    if manifest.get("precision") == INT8:
        raise ValueError("{} already holds an int8 model".format(fp32_dir))
    split = split_videos(clips_dir, holdout_every)
    reader = ClipReader(manifest)
    calibration = _tensors(reader, split["calibration"], clips_per_video)
    held_out = _tensors(reader, split["held_out"], clips_per_video)

    fp32 = Predictor(fp32_dir, gpus=0)
    from mxnet.contrib.quantization import quantize_net

    net = load_block(fp32_dir, mx.cpu())  # folded first, so the int8 graph skips the same unused work
    quantized = quantize_net(
        net,
        quantized_dtype="auto",
        quantize_mode="smart",
        calib_mode=calib_mode,
        calib_data=mx.io.NDArrayIter(data=calibration, batch_size=1),
        data_shapes=[mx.io.DataDesc(name="data", shape=(1,) + calibration.shape[1:])],
        num_calib_examples=len(calibration),
        ctx=mx.cpu(),
    )
    quantized.hybridize(static_alloc=True, static_shape=True)

    def scores(block_call, tensors):
        return np.stack([block_call(t) for t in tensors])

    fp32_scores = scores(fp32.probabilities, held_out)
    int8_scores = scores(
        lambda t: mx.nd.softmax(quantized(mx.nd.array(t[np.newaxis], ctx=mx.cpu())), axis=-1).asnumpy()[0], held_out
    )
    report = dict(
        agreement(fp32_scores, int8_scores),
        thresholds={"min_top1_agreement": min_top1_agreement, "min_top5_overlap": min_top5_overlap},
        calibration_videos=[os.path.basename(p) for p in split["calibration"]],
        held_out_videos=[os.path.basename(p) for p in split["held_out"]],
        calibration_clips=int(len(calibration)),
        held_out_clips=int(len(held_out)),
        clips_per_video=clips_per_video,
        calib_mode=calib_mode,
        fp32_model=manifest.get("name"),
        fp32_params_sha256=manifest.get("params_sha256"),
    )
    reasons = []
    if report["top1_agreement"] < min_top1_agreement:
        reasons.append(
            "top-1 agreement with fp32 {:.2f} is below the threshold {:.2f} (--min-top1-agreement)".format(
                report["top1_agreement"], min_top1_agreement
            )
        )
    if report["top5_overlap"] < min_top5_overlap:
        reasons.append(
            "top-5 overlap with fp32 {:.2f} is below the threshold {:.2f} (--min-top5-overlap)".format(
                report["top5_overlap"], min_top5_overlap
            )
        )
    if reasons:
        raise QuantizationRefused(report, reasons)

    os.makedirs(out_dir, exist_ok=True)
    quantized.export(os.path.join(out_dir, "model"), epoch=0)
    if os.path.abspath(fp32_dir) != os.path.abspath(out_dir):
        shutil.copyfile(os.path.join(fp32_dir, CLASSES_FILE), os.path.join(out_dir, CLASSES_FILE))
    int8_manifest = dict(
        manifest,
        name=name or "{}-int8".format(manifest.get("name")),
        precision=INT8,
        quantization=report,
        params_sha256=sha256_of(os.path.join(out_dir, PARAMS_FILE)),
    )
    with open(os.path.join(out_dir, REPORT_FILE), "w") as handle:
        json.dump(report, handle, indent=2)
    with open(os.path.join(out_dir, "manifest.json"), "w") as handle:
        json.dump(int8_manifest, handle, indent=2)
    return int8_manifest
