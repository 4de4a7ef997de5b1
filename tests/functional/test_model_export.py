"""Export then load gives the network's own outputs; the manifest tells the truth."""

import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_export_then_load_gives_identical_outputs(tmp_path):
    import mxnet as mx

    from inference.predictor import Predictor
    from model.export import _zoo_net, export

    out = tmp_path / "model"
    manifest = export("random", str(out))
    assert manifest["random_weights"] is True and "RANDOM WEIGHTS" in manifest["warning"]
    assert json.loads((out / "manifest.json").read_text())["params_sha256"] == manifest["params_sha256"]
    assert len((out / "classes.txt").read_text().split()) == 101

    clip = np.random.default_rng(1).standard_normal((3, 32, 224, 224)).astype(np.float32)
    original = _zoo_net(pretrained=False)  # same seed -> same weights
    expected = mx.nd.softmax(original(mx.nd.array(clip[None])), axis=-1).asnumpy()[0]
    plain = Predictor(str(out), optimize=False).probabilities(clip)
    fused = Predictor(str(out), optimize=True).probabilities(clip)
    assert np.allclose(plain, expected, atol=1e-6)
    assert np.allclose(fused, expected, atol=1e-4)
    assert Predictor(str(out)).identity["random_weights"] is True


def test_params_source_copies_user_model(tmp_path, model_dir):
    from model.export import export

    manifest = export("params", str(tmp_path / "mine"), params_dir=model_dir, name="my-model")
    assert manifest["name"] == "my-model" and manifest["random_weights"] is False
    assert os.path.exists(tmp_path / "mine" / "model-0000.params")


def test_unknown_source_lists_choices(tmp_path):
    from model.export import export

    with pytest.raises(ValueError, match="gluoncv, params, random"):
        export("zoo", str(tmp_path))
