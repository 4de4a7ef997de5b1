"""Our frame sampling against GluonCV's own test-time sampling code."""

from types import SimpleNamespace

import pytest

from inference.sampling import clip_frame_indices, short_video_note


def gluoncv_frame_ids(num_frames, clip_length, step, num_clips):
    """Run GluonCV's VideoClsCustom sampling methods on a stand-in object and record the ids."""
    from gluoncv.data.video_custom.classification import VideoClsCustom

    class Recorder:
        def get_batch(self, ids):
            self.ids = [int(i) for i in ids]
            raise LookupError  # stop before decoding

    fake = SimpleNamespace(skip_length=clip_length * step, num_segments=num_clips, temporal_jitter=False, new_step=step)
    offsets, skips = VideoClsCustom._sample_test_indices(fake, num_frames)
    recorder = Recorder()
    with pytest.raises(RuntimeError):
        VideoClsCustom._video_TSN_decord_batch_loader(fake, "video", recorder, num_frames, offsets, skips)
    return recorder.ids


@pytest.mark.parametrize("num_frames", [64, 65, 100, 250, 251, 300, 750])
@pytest.mark.parametrize("clip_length,step", [(32, 1), (32, 2), (8, 4)])
@pytest.mark.parametrize("num_clips", [1, 3, 5])
def test_matches_gluoncv(num_frames, clip_length, step, num_clips):
    ours = [i for clip in clip_frame_indices(num_frames, clip_length, step, num_clips) for i in clip]
    assert ours == gluoncv_frame_ids(num_frames, clip_length, step, num_clips)


def test_center_clip_is_centred():
    (clip,) = clip_frame_indices(250, 32, 2, 1)
    assert clip == list(range(93, 157, 2))
    assert len(clip) == 32


def test_clips_spread_over_segment():
    clips = clip_frame_indices(250, 32, 2, 3)
    starts = [c[0] for c in clips]
    assert starts == sorted(starts) and starts[0] < 63 and starts[-1] > 150


def test_short_video_repeats_last_frame_and_says_so():
    (clip,) = clip_frame_indices(20, 32, 2, 1)
    assert clip[:10] == list(range(0, 20, 2)) and clip[10:] == [18] * 22
    assert "fewer than" in short_video_note(20, 32, 2)
    assert short_video_note(250, 32, 2) == ""


@pytest.mark.parametrize("bad", [dict(num_frames=0), dict(num_frames=10, clip_length=0), dict(num_frames=10, num_clips=0)])
def test_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        clip_frame_indices(**bad)
