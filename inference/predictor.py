"""The model: a ``gluon.SymbolBlock`` loaded from the seed's model contract.

A model directory holds ``model-symbol.json``, ``model-0000.params``,
``classes.txt`` and (written by ``python -m model export``) ``manifest.json``.
"""

import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Optional

from inference import runtime  # noqa: F401  (sets OMP threads before mxnet loads)

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

LOG = logging.getLogger(__name__)

SYMBOL_FILE = "model-symbol.json"
PARAMS_FILE = "model-0000.params"
CLASSES_FILE = "classes.txt"
MANIFEST_FILE = "manifest.json"

RANDOM_WEIGHTS_WARNING = (
    "THIS MODEL HAS RANDOM WEIGHTS: its labels are meaningless. "
    "It exists because pretrained weights could not be downloaded here; "
    "export real weights with `python -m model export --source gluoncv` or `--source params`."
)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(model_dir: str) -> Dict[str, Any]:
    """The manifest, or one inferred from the files for a directory made by hand."""
    path = os.path.join(model_dir, MANIFEST_FILE)
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    return {
        "name": os.path.basename(os.path.abspath(model_dir)),
        "architecture": "i3d_resnet50_v1",
        "source": "params",
        "random_weights": False,
        "clip_length": 32,
        "frame_step": 2,
        "input_size": 224,
        "resize": [340, 256],
    }


def load_classes(model_dir: str) -> List[str]:
    with open(os.path.join(model_dir, CLASSES_FILE)) as handle:
        return [line.strip() for line in handle if line.strip()]


class Predictor:
    """Scores clips of shape ``(3, T, 224, 224)``; returns softmax probabilities."""

    def __init__(self, model_dir: str, optimize: bool = True, quantize_with: Optional[np.ndarray] = None):
        self.model_dir = model_dir
        self.manifest = load_manifest(model_dir)
        self.classes = load_classes(model_dir)
        if self.manifest.get("random_weights"):
            LOG.warning(RANDOM_WEIGHTS_WARNING)
        self.context = mx.cpu()
        net = mx.gluon.SymbolBlock.imports(
            os.path.join(model_dir, SYMBOL_FILE),
            ["data"],
            os.path.join(model_dir, PARAMS_FILE),
            ctx=self.context,
        )
        self.quantized = quantize_with is not None
        if self.quantized:
            net = self._quantize(net, quantize_with)
        elif optimize:
            # oneDNN graph fusion plus a static memory plan: measured 0.31 s per
            # clip against 0.60 s for the plain imperative block on 2 cores.
            net.hybridize(backend="MKLDNN", static_alloc=True, static_shape=True)
        self.net = net
        self.identity = {
            "name": self.manifest.get("name"),
            "architecture": self.manifest.get("architecture"),
            "source": self.manifest.get("source"),
            "params_sha256": self.manifest.get("params_sha256"),
            "random_weights": bool(self.manifest.get("random_weights", False)),
            "quantized": self.quantized,
        }

    def _quantize(self, net, calibration: np.ndarray):
        from mxnet.contrib.quantization import quantize_net

        batch_shape = (1,) + tuple(calibration.shape[1:])
        quantized = quantize_net(
            net,
            quantized_dtype="auto",
            quantize_mode="smart",
            calib_mode="naive",
            calib_data=mx.io.NDArrayIter(data=calibration, batch_size=1),
            data_shapes=[mx.io.DataDesc(name="data", shape=batch_shape)],
            num_calib_examples=len(calibration),
            ctx=self.context,
        )
        quantized.hybridize(static_alloc=True, static_shape=True)
        return quantized

    def probabilities(self, clip: np.ndarray) -> np.ndarray:
        """Softmax over the classes for one clip ``(3, T, H, W)``."""
        batch = mx.nd.array(clip[np.newaxis], ctx=self.context, dtype="float32")
        logits = self.net(batch)
        return mx.nd.softmax(logits, axis=-1).asnumpy()[0]

    def top_k(self, probabilities: np.ndarray, k: int) -> List[Dict[str, Any]]:
        order = np.argsort(-probabilities)[:k]
        return [{"label": self.classes[i], "probability": round(float(probabilities[i]), 6)} for i in order]
