"""Exact rewrites of an MXNet symbol graph (its JSON) that remove computation nobody uses.

One rewrite, :func:`fold_subsampling`: a pooling whose kernel is 1 along an axis
and whose stride there is ``s`` keeps one output of the layer before it in ``s``
along that axis. When that layer is a convolution, followed only by elementwise
or per-channel steps (inference-mode BatchNorm, activations), the convolution can
compute just those outputs: its stride along the axis is multiplied by ``s`` and
the pooling's set to 1. Every value computed is one the original graph computed
too, from the same products: the outputs are the same up to float32 rounding
(oneDNN may choose another kernel for the new stride and sum in another order;
on I3D here the logits came out bit for bit equal).

GluonCV's I3D-ResNet50 has this shape: ``conv0`` (kernel 5x7x7, stride 2x2x2)
then ``pool0`` (kernel 1x3x3, stride 2x2x2), so half of conv0's time steps were
computed and dropped. conv0 is about 28% of the network's multiply-adds
(9.4 of 33 GMAC for a 32-frame clip); folded, the network does 14% fewer.

Why this is exact, along one axis of length L: the convolution (kernel k, pad p,
stride c) yields ``floor((L + 2p - k) / c) + 1`` outputs, output i read at
``i*c - p``; the pooling ("valid" convention, kernel 1, pad 0, stride s) keeps
outputs ``0, s, 2s, ...``, ``floor((n - 1) / s) + 1`` of them. The folded
convolution (stride ``c*s``) reads output j at ``j*c*s - p``, the same place,
and yields ``floor((L + 2p - k) / (c*s)) + 1`` outputs, the same count (nested
floors). BatchNorm is per channel only at inference (the moving statistics):
the rewritten graph is for serving and calibration, never for training.
"""

import json
from typing import Any, Dict, List, Sequence, Tuple

#: Steps that act on each element (or each channel) alone, so they commute with subsampling.
ELEMENTWISE_OPS = ("BatchNorm", "Activation", "relu", "LeakyReLU", "clip")


def _shape(text: str) -> List[int]:
    return [int(part) for part in text.strip("()[] ").split(",") if part.strip()]


def _text(values: Sequence[int]) -> str:
    return "(" + ", ".join(str(value) for value in values) + ")"


def _flag(value: Any) -> bool:
    """An MXNet boolean attribute as the symbol file spells it ("True", "true", "1", 1)."""
    return str(value).strip().lower() in ("true", "1")


def _attrs(node: Dict[str, Any]) -> Dict[str, str]:
    """A node's attributes ("param" or "attr" in symbol files older than MXNet 1.0)."""
    return node.get("attrs") or node.get("param") or node.get("attr") or {}


def _per_channel(node: Dict[str, Any]) -> bool:
    """Whether an elementwise step acts on each element, or on each channel (axis 1) alone."""
    if node["op"] != "BatchNorm":
        return True
    attrs = _attrs(node)
    # output_mean_var adds outputs a fold would change; another axis would be the folded one.
    return int(attrs.get("axis", 1)) == 1 and not _flag(attrs.get("output_mean_var", False))


def fold_subsampling(symbol: Dict[str, Any]) -> List[str]:
    """Fold kernel-1 pooling strides into the convolution before them, in place; say what was folded."""
    nodes = symbol["nodes"]
    consumers: Dict[int, int] = {}
    for node in nodes:
        for source in node["inputs"]:
            consumers[source[0]] = consumers.get(source[0], 0) + 1
    for head in symbol.get("heads", []):
        consumers[head[0]] = consumers.get(head[0], 0) + 1
    folded = []
    for pool in nodes:
        attrs = _attrs(pool)
        if pool["op"] != "Pooling" or _flag(attrs.get("global_pool", False)):
            continue
        if attrs.get("pooling_convention", "valid") != "valid" or "kernel" not in attrs or "stride" not in attrs:
            continue
        # Walk back through the elementwise steps, each used by nothing else.
        index = pool["inputs"][0][0]
        while nodes[index]["op"] in ELEMENTWISE_OPS and consumers.get(index) == 1 and _per_channel(nodes[index]):
            index = nodes[index]["inputs"][0][0]
        conv = nodes[index]
        conv_attrs = _attrs(conv)
        if conv["op"] != "Convolution" or consumers.get(index) != 1 or not conv_attrs:
            continue
        # The two must number their axes alike (channels first: NCW, NCHW, NCDHW, or unset).
        layouts = {conv_attrs.get("layout", "None"), attrs.get("layout", "None")}
        if not layouts <= {"None", "NCW", "NCHW", "NCDHW"} or len(layouts - {"None"}) > 1:
            continue
        kernel, pool_stride = _shape(attrs["kernel"]), _shape(attrs["stride"])
        pad = _shape(attrs.get("pad", "()")) or [0] * len(kernel)
        conv_stride = _shape(conv_attrs.get("stride", "()")) or [1] * len(kernel)
        if not (len(kernel) == len(pool_stride) == len(pad) == len(conv_stride) == len(_shape(conv_attrs["kernel"]))):
            continue
        axes = [axis for axis in range(len(kernel)) if kernel[axis] == 1 and pad[axis] == 0 and pool_stride[axis] > 1]
        if not axes:
            continue
        before = (conv_attrs.get("stride"), attrs["stride"])
        for axis in axes:
            conv_stride[axis] *= pool_stride[axis]
            pool_stride[axis] = 1
        conv_attrs["stride"], attrs["stride"] = _text(conv_stride), _text(pool_stride)
        folded.append("{} stride {} -> {}, {} stride {} -> {}".format(
            conv["name"], before[0], conv_attrs["stride"], pool["name"], before[1], attrs["stride"]))
    return folded


def folded_symbol_json(path: str) -> Tuple[str, List[str]]:
    """The symbol file at ``path`` with :func:`fold_subsampling` applied, as JSON text, and the folds.

    Unchanged files come back as they were read; changed ones are written without ``\\u``
    escapes, which MXNet's JSON reader does not accept.
    """
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    symbol = json.loads(text)
    folds = fold_subsampling(symbol)
    return (json.dumps(symbol, ensure_ascii=False) if folds else text), folds
