"""The reader's frames are bit-identical to the intended frames of real segments, on every branch.

One strategy (``inference/video.py``): decode forward from the last IDR keyframe at or
before the first needed frame (a cut of the file at that keyframe's packet), else from
frame 0 of the whole file. Each test below reaches one branch and says which.
"""

import functools
import hashlib

import cv2
import numpy as np
import pytest

from inference.sampling import clip_frame_indices
from inference.video import SegmentReader, decode_all, ts_index, walk


@pytest.fixture(scope="module")
def hevc_segment(tmp_path_factory):
    from videos.samples import cut_segments, sample_path

    return cut_segments(sample_path("bikes.mp4"), str(tmp_path_factory.mktemp("hevc")), codec="libx265")[0]


def _digest(frame: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def decode_digests(path):
    """Every frame of ``path`` decoded in order, as digests (all 1080p frames would not fit in memory)."""
    return [_digest(frame) for frame in decode_all(path)]


def assert_exact(frames, reference):
    for index, frame in frames.items():
        assert _digest(frame) == reference[index], f"frame {index} differs"


@pytest.mark.parametrize("name", ["bikes", "bikes_720p", "bikes_1080p", "bunny"])
@pytest.mark.parametrize("num_clips", [1, 3])
def test_reads_exact_frames(segments, name, num_clips):
    path = segments[name][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        assert reader.facts.frame_count == len(reference)
        clips = clip_frame_indices(reader.facts.frame_count, 32, 2, num_clips)
        wanted = [i for clip in clips for i in clip]
        frames = reader.read(wanted)
    assert sorted(frames) == sorted(set(wanted))
    assert_exact(frames, reference)


def test_reads_the_intended_frames_not_neighbours(segments):
    """Consecutive frames of a moving video differ, so an off-by-one would be caught above."""
    reference = decode_digests(segments["bikes"][0])
    assert reference[100] != reference[101]


def test_not_a_video_is_refused(tmp_path):
    from inference import errors

    junk = tmp_path / "junk.ts"
    junk.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(errors.InferenceError) as refused:
        SegmentReader(str(junk))
    assert refused.value.code == errors.NOT_A_VIDEO


@pytest.mark.parametrize("name", ["bikes_720p", "bikes_1080p"])
def test_cut_branch_starts_at_the_last_idr_before_the_clip(segments, name):
    path = segments[name][0]
    index = ts_index(open(path, "rb").read())
    assert [frame for frame, _ in index.keyframes][:3] == [0, 50, 100]  # the 2-second GOP the segments are cut with
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        (clip,) = clip_frame_indices(reader.facts.frame_count, 32, 2, 1)
        assert reader.start_frame(clip[0]) == 50
        frames = reader.read(clip)
        assert reader._cut_path is not None, "the clip starts after an IDR: reading should begin there"
    assert_exact(frames, reference)


def test_walk_branch_inside_the_first_gop(segments):
    path = segments["bikes"][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        assert reader.start_frame(10) == 0
        frames = reader.read(range(10, 42, 2))
        assert reader._cut_path is None
    assert_exact(frames, reference)


@pytest.mark.parametrize("kind", ["mp4", "hevc"])
def test_walk_branch_without_known_keyframes(kind, hevc_segment):
    """Not MPEG-TS (no index at all) and HEVC in MPEG-TS (no IDR search): read from frame 0."""
    from videos.samples import sample_path

    path = sample_path("bikes.mp4") if kind == "mp4" else hevc_segment
    reference = decode_digests(path)
    with SegmentReader(path, mpegts_only=kind != "mp4") as reader:
        assert (reader.ts is None) == (kind == "mp4")
        assert reader.start_frame(120) == 0
        frames = reader.read(range(120, 184, 2))
        assert reader._cut_path is None
    assert len(frames) == 32
    assert_exact(frames, reference)


def test_second_read_reopens_the_file(segments):
    """The first read used the probe capture or a cut; the next one must not continue from there."""
    path = segments["bikes_720p"][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        first = reader.read(range(120, 130))
        again_at_start = reader.read(range(0, 8))  # walk branch, after the capture was consumed
        again_cut = reader.read(range(60, 70))  # cut branch again, replacing the first cut
    for frames in (first, again_at_start, again_cut):
        assert_exact(frames, reference)


def test_cut_that_cannot_be_opened_falls_back_to_walking(segments, monkeypatch, tmp_path):
    path = segments["bikes_720p"][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        monkeypatch.setattr(reader, "_open_cut", lambda frame: cv2.VideoCapture(str(tmp_path / "missing.ts"), cv2.CAP_FFMPEG))
        frames = reader.read(range(120, 130))
    assert sorted(frames) == list(range(120, 130))
    assert_exact(frames, reference)


def test_reading_past_the_end_is_an_eof_error(segments):
    with SegmentReader(segments["bikes"][0]) as reader:
        with pytest.raises(EOFError, match="ended at frame 250"):
            reader.read([reader.facts.frame_count + 3])


def test_count_frames_counts_the_whole_file_after_a_cut(segments):
    path = segments["bikes_1080p"][0]
    with SegmentReader(path) as reader:
        reader.read(range(93, 157, 2))  # reading starts at the IDR at frame 50
        assert reader._cut_path is not None
        assert reader.count_frames() == 250


def test_on_frame_gets_each_kept_frame_from_a_reused_buffer(segments):
    """With ``on_frame`` the full-size frame is decoded into one buffer; only the result is kept."""
    path = segments["bikes"][0]
    reference = decode_digests(path)
    seen = []
    with SegmentReader(path) as reader:
        frames = reader.read([3, 5, 7], on_frame=lambda frame: (seen.append(frame), frame.copy())[1])
    assert len({id(frame) for frame in seen}) == 1
    assert_exact(frames, reference)


class _Capture:
    """A capture whose frames all grab but never decode."""

    def grab(self):
        return True

    def retrieve(self, image=None):
        return False, None


def test_a_frame_that_grabs_but_does_not_decode_is_an_eof_error():
    with pytest.raises(EOFError, match="frame 2 could not be decoded"):
        walk(_Capture(), 0, [2, 4])
