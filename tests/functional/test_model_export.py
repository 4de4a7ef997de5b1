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


def test_the_folded_graph_scores_as_the_exported_one(model_dir):
    """``load_block`` (the graph with conv0's dropped time steps folded away) against
    ``SymbolBlock.imports`` of the same files, both hybridized as the predictor serves."""
    import mxnet as mx

    from inference.predictor import PARAMS_FILE, SYMBOL_FILE, Predictor, hybridize_options

    predictor = Predictor(model_dir)
    exported = mx.gluon.SymbolBlock.imports(
        os.path.join(model_dir, SYMBOL_FILE), ["data"], os.path.join(model_dir, PARAMS_FILE), ctx=mx.cpu())
    exported.hybridize(**hybridize_options(mx.cpu(), quantized=False))
    clip = np.random.default_rng(2).standard_normal((1, 3, 32, 224, 224)).astype(np.float32)
    folded_logits = predictor.net(mx.nd.array(clip)).asnumpy()
    exported_logits = exported(mx.nd.array(clip)).asnumpy()
    np.testing.assert_allclose(folded_logits, exported_logits, rtol=1e-5, atol=1e-6)
    assert not np.allclose(folded_logits, 0)


def test_params_source_copies_user_model(tmp_path, model_dir):
    from model.export import export

    manifest = export("params", str(tmp_path / "mine"), params_dir=model_dir, name="my-model")
    assert manifest["name"] == "my-model" and manifest["random_weights"] is False
    assert os.path.exists(tmp_path / "mine" / "model-0000.params")


def test_unknown_source_lists_choices(tmp_path):
    from model.export import export

    with pytest.raises(ValueError, match="gluoncv, params, random"):
        export("zoo", str(tmp_path))


@pytest.fixture(scope="module")
def calibration_dir(segments, tmp_path_factory):
    """Three short segments: with --holdout-every 3, two calibrate and one is held out."""
    import shutil

    folder = tmp_path_factory.mktemp("clips")
    for name, source in (("a.ts", segments["bikes"][0]), ("b.ts", segments["bunny"][0]), ("c.ts", segments["bikes_720p"][0])):
        shutil.copyfile(source, folder / name)
    (folder / "notes.txt").write_text("not a video: ignored")
    return str(folder)


def test_int8_export_writes_the_model_and_its_agreement_report(tmp_path, model_dir, calibration_dir, capsys):
    from inference.clips import ClipReader
    from inference.predictor import Predictor
    from model.__main__ import main

    out = tmp_path / "int8"
    code = main(["export", "--source", "params", "--params-dir", model_dir, "--out", str(out),
                 "--precision", "int8", "--calibrate", calibration_dir, "--holdout-every", "3"])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    report = json.loads((out / "quantization.json").read_text())
    assert manifest["precision"] == "int8" and manifest["quantization"] == report
    assert report["calibration_videos"] == ["a.ts", "b.ts"] and report["held_out_videos"] == ["c.ts"]
    assert report["top1_agreement"] >= report["thresholds"]["min_top1_agreement"] == 0.9
    assert report["top5_overlap"] >= report["thresholds"]["min_top5_overlap"] == 0.8

    int8 = Predictor(str(out))
    assert int8.quantized and int8.identity["quantized"] and str(int8.context) == "cpu(0)"
    (clip,) = ClipReader(int8.manifest).read(os.path.join(calibration_dir, "c.ts")).tensors
    fp32_best = np.argmax(Predictor(model_dir).probabilities(clip))
    assert np.argmax(int8.probabilities(clip)) == fp32_best  # the held-out clip, as the report says


def test_int8_export_below_the_threshold_writes_nothing(tmp_path, model_dir, calibration_dir, monkeypatch, capsys):
    from model import quantize
    from model.__main__ import main

    monkeypatch.setattr(quantize, "agreement", lambda fp32, int8: {"top1_agreement": 0.5, "top5_overlap": 0.6})
    out = tmp_path / "int8"
    code = main(["export", "--source", "params", "--params-dir", model_dir, "--out", str(out),
                 "--precision", "int8", "--calibrate", calibration_dir, "--holdout-every", "3"])
    captured = capsys.readouterr()
    assert code == 2
    assert "top-1 agreement with fp32 0.50 is below the threshold 0.90 (--min-top1-agreement)" in captured.err
    assert "top-5 overlap with fp32 0.60 is below the threshold 0.80 (--min-top5-overlap)" in captured.err
    assert json.loads(captured.out)["held_out_videos"] == ["c.ts"]
    assert not out.exists()


def test_clips_handed_over_without_a_copy_score_as_copied_ones(model_dir):
    """``Predictor.probabilities`` lends MXNet the clip's memory (DLPack): each call scores its own
    clip, bit for bit as a copied input, leaves it unchanged, and MXNet lets go of it once the forward is done."""
    import gc
    import weakref

    import mxnet as mx

    from inference.predictor import Predictor

    predictor = Predictor(model_dir)
    rng = np.random.default_rng(5)
    clips = [rng.random((3, 32, 224, 224), dtype=np.float32) for _ in range(2)]
    copied = [
        mx.nd.softmax(predictor.net(mx.nd.array(clip[np.newaxis], ctx=predictor.context)), axis=-1).asnumpy()[0]
        for clip in clips
    ]
    assert not np.array_equal(copied[0], copied[1])
    for index in (0, 1, 0):
        lent = clips[index].copy()
        scores = predictor.probabilities(lent)
        assert np.array_equal(lent, clips[index])
        lent_ref = weakref.ref(lent)
        del lent
        gc.collect()
        assert lent_ref() is None, "MXNet still holds the clip after the forward"
        assert np.array_equal(scores, copied[index])
