"""The sampler's frames are bit-identical to the intended frames of real .ts segments."""

import numpy as np
import pytest

from inference.sampling import clip_frame_indices
from inference.video import SegmentReader, decode_all


@pytest.mark.parametrize("name", ["bikes", "bikes_720p", "bikes_1080p", "bunny"])
@pytest.mark.parametrize("num_clips", [1, 3])
def test_seek_reads_exact_frames(segments, name, num_clips):
    path = segments[name][0]
    reference = decode_all(path)
    with SegmentReader(path) as reader:
        assert reader.facts.frame_count == len(reference)
        clips = clip_frame_indices(reader.facts.frame_count, 32, 2, num_clips)
        wanted = [i for clip in clips for i in clip]
        frames = reader.read(wanted)
    assert sorted(frames) == sorted(set(wanted))
    for index, frame in frames.items():
        assert np.array_equal(frame, reference[index]), f"frame {index} differs"


def test_reads_the_intended_frames_not_neighbours(segments):
    """Consecutive frames of a moving video differ, so an off-by-one would be caught above."""
    reference = decode_all(segments["bikes"][0])
    assert not np.array_equal(reference[100], reference[101])


def test_not_a_video_is_refused(tmp_path):
    from inference import errors

    junk = tmp_path / "junk.ts"
    junk.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(errors.InferenceError) as refused:
        SegmentReader(str(junk))
    assert refused.value.code == errors.NOT_A_VIDEO
