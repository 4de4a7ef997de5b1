"""The reader's frames are bit-identical to the intended frames of real segments, on every branch.

One strategy (``inference/video.py``, PyAV): decode forward from the last IDR keyframe at or
before the first needed frame, else from frame 0, skipping the non-reference frames not kept.
Each test below reaches one branch and says which. The reference is independent of the reader:
every frame decoded in order by the ffmpeg command (another FFmpeg build, no skipping), RGB24,
at full size or scaled by its scale filter (bilinear, as GluonCV's reader scales).
"""

import functools
import hashlib
import subprocess

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from contracts import mpegts
from inference.sampling import clip_frame_indices
from inference.video import SegmentReader, ts_index


def ffmpeg_frames(path, size=None):
    """Every frame of ``path`` in order, RGB, as the ffmpeg command decodes (and scales) them."""
    if size is None:
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)  # only the dimensions
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        capture.release()
        scale = []
    else:
        scale = ["-vf", "scale=%d:%d:flags=bilinear" % size]
    width, height = size
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", path, "-map", "0:v:0", *scale,
               "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    frame_bytes = width * height * 3
    while True:
        data = process.stdout.read(frame_bytes)
        if len(data) < frame_bytes:
            break
        yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
    assert process.wait() == 0


@pytest.fixture(scope="module")
def hevc_segment(tmp_path_factory):
    from videos.samples import cut_segments, sample_path

    return cut_segments(sample_path("bikes.mp4"), str(tmp_path_factory.mktemp("hevc")), codec="libx265")[0]


def _digest(frame: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def decode_digests(path):
    """Every frame of ``path`` decoded in order, as digests (all 1080p frames would not fit in memory)."""
    return [_digest(frame) for frame in ffmpeg_frames(path)]


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
def test_decoding_starts_at_the_last_idr_before_the_clip_and_skips_unkept_frames(segments, name):
    path = segments[name][0]
    index = ts_index(open(path, "rb").read())
    assert [frame for frame, _ in index.keyframes][:3] == [0, 50, 100]  # the 2-second GOP the segments are cut with
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        (clip,) = clip_frame_indices(reader.facts.frame_count, 32, 2, 1)
        assert reader.start_frame(clip[0]) == 50
        frames = reader.read(clip)
        stats = reader.last_read
    assert stats.start == 50, "the clip starts after an IDR: decoding should begin there"
    assert stats.walked == clip[-1] - 50 + 1
    # Non-reference frames the clip does not keep are skipped (x264's B-frames): 89 of 106 here.
    assert len(clip) <= stats.decoded < stats.walked * 0.9
    # Nothing is fed after the last kept frame's packet (in decode order): the decoder is drained.
    with av.open(path) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    presentation = sorted(packet.pts for packet in packets)
    kept = {presentation[i] for i in clip}
    last_kept = max(position for position, packet in enumerate(packets) if packet.pts in kept)
    assert stats.sent == last_kept - 50 + 1
    assert_exact(frames, reference)


def test_walk_branch_inside_the_first_gop(segments):
    path = segments["bikes"][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        assert reader.start_frame(10) == 0
        frames = reader.read(range(10, 42, 2))
        assert reader.last_read.start == 0
    assert_exact(frames, reference)


@pytest.mark.parametrize("kind", ["mp4", "hevc"])
def test_walk_branch_without_known_keyframes(kind, hevc_segment):
    """Not MPEG-TS (no index at all) and HEVC in MPEG-TS (no IDR search): read from frame 0."""
    from videos.samples import sample_path

    path = sample_path("bikes.mp4") if kind == "mp4" else hevc_segment
    reference = decode_digests(path)
    with SegmentReader(path, mpegts_only=kind != "mp4") as reader:
        assert (reader.ts is None) == (kind == "mp4")
        assert reader.facts.frame_count == len(reference)
        assert reader.start_frame(120) == 0
        frames = reader.read(range(120, 184, 2))
        assert reader.last_read.start == 0
    assert len(frames) == 32
    assert_exact(frames, reference)


def test_second_read_starts_afresh(segments):
    """Each read opens the file again: a read after another never continues from where it stopped."""
    path = segments["bikes_720p"][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        first = reader.read(range(120, 130))
        again_at_start = reader.read(range(0, 8))
        again_after_idr = reader.read(range(60, 70))
    for frames in (first, again_at_start, again_after_idr):
        assert_exact(frames, reference)


def test_a_keyframe_that_does_not_start_cleanly_falls_back_to_frame_0(segments, monkeypatch):
    """If the index names a frame that is not an IDR, decoding from it would give wrong frames."""
    path = segments["bikes_720p"][0]
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        monkeypatch.setattr(reader, "start_frame", lambda first: 61)  # a P or B frame, not an IDR
        frames = reader.read(range(120, 130))
        assert reader.last_read.start == 0
    assert sorted(frames) == list(range(120, 130))
    assert_exact(frames, reference)


def test_reading_past_the_end_is_an_eof_error(segments):
    with SegmentReader(segments["bikes"][0]) as reader:
        with pytest.raises(EOFError, match="ended at frame 250"):
            reader.read([reader.facts.frame_count + 3])


def test_count_frames_counts_the_whole_file(segments):
    path = segments["bikes_1080p"][0]
    with SegmentReader(path) as reader:
        reader.read(range(93, 157, 2))  # reading starts at the IDR at frame 50
        assert reader.last_read.start == 50
        assert reader.count_frames() == 250


@pytest.mark.parametrize("name", ["bikes", "bikes_1080p", "bunny"])
def test_scaled_frames_equal_ffmpegs_scale_filter(segments, name):
    """Given a size, colour conversion and scaling are one swscale pass: the frames equal the
    scale filter's, bit for bit (and differ from a full-size frame resized by OpenCV)."""
    path = segments[name][0]
    reference = list(ffmpeg_frames(path, (340, 256)))
    with SegmentReader(path) as reader:
        (clip,) = clip_frame_indices(reader.facts.frame_count, 32, 2, 1)
        frames = reader.read(clip, size=(340, 256))
        full = reader.read(clip[:1])
    assert len(reference) == reader.facts.frame_count and sorted(frames) == clip
    for index, frame in frames.items():
        assert frame.shape == (256, 340, 3)
        assert np.array_equal(frame, reference[index]), f"frame {index} differs"
    assert not np.array_equal(frames[clip[0]], cv2.resize(full[clip[0]], (340, 256), interpolation=cv2.INTER_LINEAR))


def test_scaled_frames_equal_gluoncvs_reader():
    """GluonCV reads frames with decord at 340x256; on the sample MP4 (decord misplaces frames
    in MPEG-TS segments) the scaled frames are decord's, bit for bit, RGB both."""
    import mxnet  # noqa: F401  (before decord: the other order crashes)
    import decord
    from videos.samples import sample_path

    path = sample_path("bikes.mp4")
    gluoncv_reader = decord.VideoReader(path, width=340, height=256, num_threads=1)
    indices = list(range(100, 164, 2))
    with SegmentReader(path, mpegts_only=False) as reader:
        frames = reader.read(indices, size=(340, 256))
    theirs = gluoncv_reader.get_batch(indices).asnumpy()
    for position, index in enumerate(indices):
        assert np.array_equal(frames[index], theirs[position]), f"frame {index} differs"


def test_each_read_closes_its_decoder(segments):
    """PyAV's container and streams form reference cycles: unless the reader closes the decoder,
    its threads and frame pool (about 40 MB at 1080p) wait for the garbage collector."""
    import gc

    path = segments["bikes_1080p"][0]
    gc.collect()
    gc.disable()
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        with SegmentReader(path) as reader:
            reader.read(range(93, 157, 2), size=(340, 256))
            reader.count_frames()
        gc.collect()
        contexts = [thing for thing in gc.garbage if type(thing).__name__ == "VideoCodecContext"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert contexts, "the probe, the read and the count each leave a codec context in a cycle"
    assert not [context for context in contexts if context.is_open]


@pytest.mark.parametrize("workers,omp_threads,expected", [("2", "1", 1), ("1", "1", 0), (None, None, 0)])
def test_the_reader_opens_its_decoder_with_the_threads_the_worker_gets(segments, monkeypatch, workers, omp_threads, expected):
    """Read when the segment is opened, from the worker's environment (``decoder_threads``)."""
    from contracts.environment import MMS_WORKERS, OMP_THREADS

    for name, value in ((MMS_WORKERS, workers), (OMP_THREADS, omp_threads)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    reader = SegmentReader(segments["bikes"][0])
    with reader._open() as (_, stream):
        assert stream.codec_context.thread_count == expected


def test_the_stream_decoded_is_the_one_the_packet_index_counted(tmp_path, monkeypatch):
    """A program may carry two video streams: frames come from the one ``ts_index`` counted and
    indexed, named by its PID, not from whichever FFmpeg lists first."""
    import dataclasses

    import inference.video as video
    from videos.samples import sample_path

    path = tmp_path / "two_videos.ts"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-t", "2", "-i", sample_path("bikes.mp4"),
         "-map", "0:v", "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-s:v:1", "320x136",
         "-f", "mpegts", str(path)],
        check=True,
    )
    first = ts_index(path.read_bytes())
    with SegmentReader(str(path)) as reader:
        assert (reader.facts.width, reader.ts.video_pid) == (640, first.video_pid)
    # Point the index at the second stream (PID + 1, as ffmpeg's muxer numbers them): the reader follows.
    monkeypatch.setattr(video, "ts_index", lambda data: dataclasses.replace(first, video_pid=first.video_pid + 1))
    with SegmentReader(str(path)) as reader:
        assert reader.facts.width == 320
        assert reader.read([0], size=None)[0].shape == (136, 320, 3)
    monkeypatch.setattr(video, "ts_index", lambda data: dataclasses.replace(first, video_pid=first.video_pid + 7))
    with pytest.raises(video.errors.InferenceError, match="PID"):
        SegmentReader(str(path))


def test_a_segment_that_does_not_begin_with_an_idr_is_read_in_output_order(segments, tmp_path):
    """FFmpeg shows nothing before the first keyframe, so the packets' timestamps leave holes:
    the frames are then numbered in the order they come (as ``count_frames`` counts them), and a
    clip is still read through ``ClipReader``'s recount."""
    from inference.clips import ClipReader

    path = segments["bikes"][0]
    data = open(path, "rb").read()
    index = ts_index(data)
    idr_row = dict(index.keyframes)[50]

    def pid(row):
        return ((data[row * mpegts.PACKET_SIZE + 1] & 0x1F) << 8) | data[row * mpegts.PACKET_SIZE + 2]

    def starts_a_frame(row):
        return pid(row) == pid(idr_row) and data[row * mpegts.PACKET_SIZE + 1] & mpegts.PAYLOAD_UNIT_START

    # The next frame's first packet after the IDR at frame 50 (a P or B frame): cut there.
    row = next(r for r in range(idr_row + 1, len(data) // mpegts.PACKET_SIZE) if starts_a_frame(r))
    cut = tmp_path / "mid_gop.ts"
    cut.write_bytes(index.tables + data[row * mpegts.PACKET_SIZE:])
    reference = decode_digests(str(cut))
    with SegmentReader(str(cut)) as reader:
        assert reader.facts.frame_count > len(reference), "some frames are never shown"
        assert reader.count_frames() == len(reference)
        frames = reader.read(range(len(reference)))
    assert_exact(frames, reference)
    clips = ClipReader({}).read(str(cut), num_clips=3)
    assert clips.frame_count == len(reference) and len(clips.tensors) == 3


def test_a_non_idr_whose_timestamp_fits_its_position_still_falls_back_to_frame_0(segments, monkeypatch):
    """A P frame decoded where it is shown passes the timestamp check; the decoder's first
    frame then is not it (FFmpeg waits for a keyframe), and reading starts at frame 0."""
    import av

    path = segments["bikes_720p"][0]
    with av.open(path) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    rank = {pts: i for i, pts in enumerate(sorted(packet.pts for packet in packets))}
    start = next(k for k in range(51, 100) if rank[packets[k].pts] == k and not packets[k].is_keyframe)
    reference = decode_digests(path)
    with SegmentReader(path) as reader:
        monkeypatch.setattr(reader, "start_frame", lambda first: start)
        frames = reader.read(range(120, 130))
        assert reader.last_read.start == 0
    assert_exact(frames, reference)


def test_a_read_opens_the_segment_once(segments, monkeypatch):
    """The probe's container serves the first read: FFmpeg keeps the packets it probed."""
    path = segments["bikes_1080p"][0]
    opened = []
    real_open = av.open

    def counting_open(*args, **kwargs):
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    with SegmentReader(path) as reader:
        (clip,) = clip_frame_indices(reader.facts.frame_count, 32, 2, 1)
        frames = reader.read(clip)
        assert reader.last_read.start == 50
        assert len(opened) == 1
        again = reader.read(clip)  # a second read opens the file again
    assert len(opened) == 2
    monkeypatch.setattr(av, "open", real_open)
    reference = decode_digests(path)
    assert_exact(frames, reference)
    assert_exact(again, reference)


def test_a_reader_never_read_nor_closed_lets_go_of_the_file(segments):
    """The probe's container is closed when the reader goes, even without ``with`` or a read
    (PyAV's reference cycles would otherwise keep it, and its file, until a garbage collection)."""
    import gc
    import os

    def open_files():
        return len(os.listdir("/proc/self/fd"))

    gc.disable()  # only the reader's own release may close it
    try:
        before = open_files()
        reader = SegmentReader(segments["bikes_1080p"][0])
        assert open_files() > before
        del reader
        assert open_files() == before
    finally:
        gc.enable()
