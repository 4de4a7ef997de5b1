"""Write a model directory: ``model-symbol.json``, ``model-0000.params``, ``classes.txt``, ``manifest.json``.

Sources:

- ``gluoncv``: GluonCV's model zoo ``i3d_resnet50_v1_ucf101``, pretrained (downloads
  about 200 MB; needs the internet);
- ``params``: your own ``model-symbol.json`` + ``model-0000.params`` (+ ``classes.txt``),
  as the seed's "use your own model" steps;
- ``random``: the same architecture, randomly initialised (seeded), for machines
  that cannot download weights. Everything it produces says so.
"""

import datetime
import json
import os
import shutil
from typing import Any, Dict, Optional

from inference import runtime  # noqa: F401

import mxnet as mx  # noqa: E402

from inference.predictor import CLASSES_FILE, MANIFEST_FILE, PARAMS_FILE, RANDOM_WEIGHTS_WARNING, SYMBOL_FILE, sha256_of  # noqa: E402

SOURCES = ("gluoncv", "params", "random")
ZOO_MODEL = "i3d_resnet50_v1_ucf101"
DEFAULT_CLASSES = os.path.join(os.path.dirname(__file__), CLASSES_FILE)
CLIP_LENGTH = 32
FRAME_STEP = 2
INPUT_SIZE = 224


def _zoo_net(pretrained: bool):
    from gluoncv.model_zoo import get_model

    # pretrained_base / use_kinetics_pretrain off: otherwise GluonCV downloads
    # ImageNet or Kinetics weights even for a randomly initialised model.
    net = get_model(
        ZOO_MODEL,
        nclass=101,
        pretrained=pretrained,
        pretrained_base=False,
        use_kinetics_pretrain=False,
    )
    if not pretrained:
        mx.random.seed(0)
        net.initialize(mx.init.Xavier(), force_reinit=True)
    return net


def export(source: str, out_dir: str, params_dir: Optional[str] = None, name: Optional[str] = None) -> Dict[str, Any]:
    """Write the model directory and return its manifest."""
    if source not in SOURCES:
        raise ValueError("unknown source {!r}; choose one of: {}".format(source, ", ".join(SOURCES)))
    os.makedirs(out_dir, exist_ok=True)
    classes_src = DEFAULT_CLASSES
    if source == "params":
        if not params_dir:
            raise ValueError("--source params needs --params-dir holding model-symbol.json and model-0000.params")
        for required in (SYMBOL_FILE, PARAMS_FILE):
            if not os.path.exists(os.path.join(params_dir, required)):
                raise FileNotFoundError("{} is missing from {}".format(required, params_dir))
            shutil.copyfile(os.path.join(params_dir, required), os.path.join(out_dir, required))
        if os.path.exists(os.path.join(params_dir, CLASSES_FILE)):
            classes_src = os.path.join(params_dir, CLASSES_FILE)
        origin = os.path.abspath(params_dir)
    else:
        net = _zoo_net(pretrained=(source == "gluoncv"))
        net.hybridize()
        net(mx.nd.zeros((1, 3, CLIP_LENGTH, INPUT_SIZE, INPUT_SIZE)))
        # export() writes each parameter once (about 105 MB); save_parameters would write 199 MB.
        net.export(os.path.join(out_dir, "model"), epoch=0)
        origin = "gluoncv model zoo: " + ZOO_MODEL if source == "gluoncv" else "random initialisation (mx.init.Xavier, seed 0)"
    if os.path.abspath(classes_src) != os.path.abspath(os.path.join(out_dir, CLASSES_FILE)):
        shutil.copyfile(classes_src, os.path.join(out_dir, CLASSES_FILE))
    with open(os.path.join(out_dir, CLASSES_FILE)) as handle:
        classes = [line.strip() for line in handle if line.strip()]
    manifest = {
        "name": name or "{}-{}".format(ZOO_MODEL, source),
        "architecture": "i3d_resnet50_v1",
        "source": source,
        "origin": origin,
        "random_weights": source == "random",
        "classes": len(classes),
        "clip_length": CLIP_LENGTH,
        "frame_step": FRAME_STEP,
        "input_size": INPUT_SIZE,
        "resize": [340, 256],
        "sampling": "center",
        "precision": "fp32",
        "params_sha256": sha256_of(os.path.join(out_dir, PARAMS_FILE)),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    if manifest["random_weights"]:
        manifest["warning"] = RANDOM_WEIGHTS_WARNING
    with open(os.path.join(out_dir, MANIFEST_FILE), "w") as handle:
        json.dump(manifest, handle, indent=2)
    return manifest
