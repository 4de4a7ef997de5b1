"""The model: a ``gluon.SymbolBlock`` loaded from the seed's model contract.

A model directory holds ``model-symbol.json``, ``model-0000.params``,
``classes.txt`` and (written by ``python -m model export``) ``manifest.json``
(names in :mod:`inference.model_files`).
The manifest's ``precision`` is ``fp32`` or ``int8`` (a graph already quantized
and calibrated by ``python -m model export --precision int8``).

Where it runs: on the GPU when MXNet sees one (AWS's GPU inference image on
``ml.g4dn``/``ml.g5``/``ml.p3`` instances), plain hybridized; otherwise on the
CPU, hybridized with the MKLDNN (oneDNN) backend. int8 graphs are oneDNN
graphs and always run on the CPU. The GPU branch has never been executed in
this repository (no GPU here).
"""

import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Optional

from inference import runtime  # noqa: F401  (sets OMP threads before mxnet loads)
from inference.model_files import (  # noqa: F401  (re-exported for model.export)
    ARCHIVE_MANIFEST_FILE,
    CLASSES_FILE,
    MANIFEST_FILE,
    PARAMS_FILE,
    SYMBOL_FILE,
)

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from inference.graph import folded_symbol_json  # noqa: E402

LOG = logging.getLogger(__name__)


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
    for name in (ARCHIVE_MANIFEST_FILE, MANIFEST_FILE):
        path = os.path.join(model_dir, name)
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


def hybridize_options(context: "mx.Context", quantized: bool) -> Dict[str, Any]:
    """How to hybridize: a static memory plan everywhere; oneDNN fusion for an fp32 graph on the CPU.

    (Measured on 2 cores: 0.31 s per clip against 0.60 s for the plain imperative block.
    A quantized graph is fused already; the MKLDNN backend does not exist on the GPU.)
    """
    options: Dict[str, Any] = {"static_alloc": True, "static_shape": True}
    if context.device_type == "cpu" and not quantized:
        options["backend"] = "MKLDNN"
    return options


def load_classes(model_dir: str) -> List[str]:
    with open(os.path.join(model_dir, CLASSES_FILE)) as handle:
        return [line.strip() for line in handle if line.strip()]


INT8 = "int8"


def gpu_count() -> int:
    """GPUs MXNet can use (0 with a CPU-only MXNet build)."""
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:
        return 0


def choose_context(precision: str, gpus: int) -> "mx.Context":
    """The GPU for fp32 when there is one; the CPU otherwise and always for int8 (oneDNN kernels)."""
    return mx.gpu(0) if gpus > 0 and precision != INT8 else mx.cpu()


def load_block(model_dir: str, context: "mx.Context") -> "mx.gluon.SymbolBlock":
    """The model directory's network as a ``SymbolBlock``, as ``SymbolBlock.imports`` loads it, but with
    the graph's unused computation folded away first (exact: :mod:`inference.graph`)."""
    text, folds = folded_symbol_json(os.path.join(model_dir, SYMBOL_FILE))
    for fold in folds:
        LOG.info("graph: %s (outputs the pooling dropped are no longer computed)", fold)
    net = mx.gluon.SymbolBlock(mx.sym.load_json(text), [mx.sym.var("data")])
    net.collect_params().load(os.path.join(model_dir, PARAMS_FILE), context, cast_dtype=True, dtype_source="saved")
    return net


class Predictor:
    """Scores clips of shape ``(3, T, 224, 224)``; returns softmax probabilities."""

    def __init__(self, model_dir: str, optimize: bool = True, gpus: Optional[int] = None):
        self.model_dir = model_dir
        self.manifest = load_manifest(model_dir)
        self.classes = load_classes(model_dir)
        if self.manifest.get("random_weights"):
            LOG.warning(RANDOM_WEIGHTS_WARNING)
        self.quantized = self.manifest.get("precision") == INT8
        self.context = choose_context(self.manifest.get("precision", "fp32"), gpu_count() if gpus is None else gpus)
        net = load_block(model_dir, self.context)
        if optimize:
            net.hybridize(**hybridize_options(self.context, self.quantized))
        self.net = net
        self.identity = {
            "name": self.manifest.get("name"),
            "architecture": self.manifest.get("architecture"),
            "source": self.manifest.get("source"),
            "params_sha256": self.manifest.get("params_sha256"),
            "random_weights": bool(self.manifest.get("random_weights", False)),
            "quantized": self.quantized,
        }

    def probabilities(self, clip: np.ndarray) -> np.ndarray:
        """Softmax over the classes for one clip ``(3, T, H, W)``."""
        # Lent to MXNet without a copy (DLPack: MXNet holds a reference to the clip until the
        # forward is done, which asnumpy waits for): copying the 19 MB clip cost about 6 ms, of an
        # int8 forward of about 0.2 s.
        batch = mx.nd.from_numpy(np.ascontiguousarray(clip, dtype=np.float32)[np.newaxis], zero_copy=True)
        if batch.context != self.context:
            batch = batch.as_in_context(self.context)
        logits = self.net(batch)
        return mx.nd.softmax(logits, axis=-1).asnumpy()[0]

    def top_k(self, probabilities: np.ndarray, k: int) -> List[Dict[str, Any]]:
        order = np.argsort(-probabilities)[:k]
        return [{"label": self.classes[i], "probability": round(float(probabilities[i]), 6)} for i in order]
