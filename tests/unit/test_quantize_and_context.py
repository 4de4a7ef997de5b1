"""int8 agreement arithmetic, the video split, and where the predictor runs (CPU, GPU, int8)."""

import numpy as np
import pytest


def test_agreement_counts_top1_and_top5_overlap():
    from model.quantize import agreement

    fp32 = np.array([[0.5, 0.2, 0.1, 0.1, 0.05, 0.05, 0.0], [0.1, 0.6, 0.1, 0.1, 0.05, 0.05, 0.0]])
    int8 = np.array([[0.5, 0.2, 0.1, 0.1, 0.0, 0.0, 0.05], [0.6, 0.1, 0.1, 0.1, 0.05, 0.05, 0.0]])
    result = agreement(fp32, int8)
    assert result["top1_agreement"] == 0.5
    assert result["top5_overlap"] == pytest.approx((4 / 5 + 5 / 5) / 2)


def test_split_holds_out_every_nth_video_and_ignores_other_files(tmp_path):
    from model.quantize import split_videos

    for name in ("a.ts", "b.mp4", "c.ts", "d.ts", "e.ts", "readme.txt"):
        (tmp_path / name).write_bytes(b"")
    split = split_videos(str(tmp_path), 2)
    names = {key: [p.rsplit("/", 1)[1] for p in paths] for key, paths in split.items()}
    assert names == {"calibration": ["a.ts", "c.ts", "e.ts"], "held_out": ["b.mp4", "d.ts"]}


def test_split_needs_a_video_on_each_side(tmp_path):
    from model.quantize import split_videos

    (tmp_path / "only.ts").write_bytes(b"")
    with pytest.raises(ValueError, match="needs at least 4 videos"):
        split_videos(str(tmp_path), 4)


@pytest.mark.parametrize(
    "precision,gpus,expected",
    [("fp32", 0, "cpu"), ("fp32", 1, "gpu"), ("int8", 1, "cpu"), ("int8", 0, "cpu")],
)
def test_context_is_the_gpu_for_fp32_when_there_is_one(precision, gpus, expected):
    from inference.predictor import choose_context

    assert choose_context(precision, gpus).device_type == expected


def test_mkldnn_backend_only_for_fp32_on_the_cpu():
    import mxnet as mx

    from inference.predictor import hybridize_options

    assert hybridize_options(mx.cpu(), quantized=False)["backend"] == "MKLDNN"
    assert "backend" not in hybridize_options(mx.gpu(0), quantized=False)
    assert "backend" not in hybridize_options(mx.cpu(), quantized=True)
    for context, quantized in ((mx.cpu(), False), (mx.gpu(0), False), (mx.cpu(), True)):
        assert hybridize_options(context, quantized)["static_alloc"] is True
