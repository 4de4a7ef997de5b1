"""Our preprocessing against GluonCV's VideoGroupValTransform on the same frames."""

import numpy as np

from inference.transforms import IMAGENET_MEAN, IMAGENET_STD, CenterCrop, i3d_eval_steps, i3d_eval_transform


def test_equals_gluoncv_val_transform():
    from gluoncv.data.transforms.video import VideoGroupValTransform

    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(32, 256, 340, 3), dtype=np.uint8)
    ours = i3d_eval_transform(224)(rgb)  # (3, T, 224, 224)

    rgb_frames = list(rgb)  # GluonCV's reader (decord) gives RGB frames
    theirs = VideoGroupValTransform(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD)(rgb_frames)
    # GluonCV's dataset stacks (T, 3, H, W) and transposes to (3, T, H, W).
    theirs = np.stack(theirs).transpose(1, 0, 2, 3)

    assert ours.shape == (3, 32, 224, 224) and ours.dtype == np.float32
    assert np.max(np.abs(ours - theirs)) <= 1e-5


def test_fused_input_step_is_bit_identical_to_the_small_steps():
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, size=(8, 256, 340, 3), dtype=np.uint8)
    rgb[0, 100:116, 100:116, :] = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)  # every byte value, inside the crop
    fused, steps = i3d_eval_transform(224)(rgb), i3d_eval_steps(224)(rgb)
    assert fused.shape == steps.shape == (3, 8, 224, 224) and fused.flags["C_CONTIGUOUS"]
    assert np.array_equal(fused, steps)


def test_center_crop_rounding_matches_odd_sizes():
    clip = np.arange(1 * 5 * 7 * 1).reshape(1, 5, 7, 1)
    cropped = CenterCrop(3)(clip)
    assert cropped[0, :, :, 0].tolist() == clip[0, 1:4, 2:5, 0].tolist()
