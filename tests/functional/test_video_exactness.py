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


def test_seek_path_for_long_videos_is_exact(segments, tmp_path, monkeypatch):
    """Past SEEK_AFTER_FRAMES the reader seeks; force that path on a real segment and compare."""
    from inference import video

    monkeypatch.setattr(video, "SEEK_AFTER_FRAMES", 10)
    path = segments["bikes_720p"][0]
    reference = decode_all(path)
    with SegmentReader(path) as reader:
        frames = reader.read(range(120, 184, 2))
    for index, frame in frames.items():
        assert np.array_equal(frame, reference[index]), f"frame {index} differs"


@pytest.mark.parametrize("name", ["bikes_720p", "bikes_1080p"])
def test_reading_starts_at_the_last_idr_before_the_clip_and_stays_exact(segments, name):
    from inference.video import ts_index

    path = segments[name][0]
    index = ts_index(open(path, "rb").read())
    assert [frame for frame, _ in index.keyframes][:3] == [0, 50, 100]  # the 2-second GOP the segments are cut with
    reference = decode_all(path)
    with SegmentReader(path) as reader:
        (clip,) = clip_frame_indices(reader.facts.frame_count, 32, 2, 1)
        frames = reader.read(clip)
        assert reader._cut_path is not None, "the clip starts after an IDR: reading should begin there"
    for index_, frame in frames.items():
        assert np.array_equal(frame, reference[index_]), f"frame {index_} differs"


def test_count_frames_counts_the_whole_file_after_a_cut(segments):
    path = segments["bikes_1080p"][0]
    with SegmentReader(path) as reader:
        reader.read(range(93, 157, 2))  # reading starts at the IDR at frame 50
        assert reader._cut_path is not None
        assert reader.count_frames() == 250
