"""Time: the first PTS of a segment, the stream clock it gives, and the wall clock from the playlist."""

import datetime
import os
import subprocess

import pytest

from contracts import mpegts
from contracts.segments import (
    CLOCK_PTS,
    CLOCK_SEQUENCE,
    WALL_PROGRAM_DATE_TIME,
    WALL_UPLOAD_TIME,
    playlist_key,
    stream_clock,
    wall_clock,
)
from lambdas.validate_segment.playlist import program_date_time
from videos.samples import ffmpeg_exe, hls_command

UTC = datetime.timezone.utc


def colour_ts(path, offset_s: float, seconds: int = 1) -> bytes:
    """A red MPEG-TS segment whose first PTS is exactly ``offset_s`` (no mux delay, no B-frames)."""
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c=red:s=64x48:r=25:d={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an",
         "-muxdelay", "0", "-muxpreload", "0", "-output_ts_offset", f"{offset_s:.6f}", "-f", "mpegts", str(path)],
        check=True,
    )
    return path.read_bytes()


@pytest.mark.parametrize("offset_s", [0.0, 3.25, 1234.56, 95440.0])
def test_first_pts_is_the_offset_ffmpeg_was_given(tmp_path, offset_s):
    data = colour_ts(tmp_path / "a.ts", offset_s)
    pts = mpegts.first_video_pts(data[: 32 * mpegts.PACKET_SIZE])
    assert pts == round(offset_s * mpegts.PTS_HZ) % mpegts.PTS_WRAP


def test_first_pts_past_the_33_bit_wrap_is_unwrapped_to_its_slot(tmp_path):
    # 2**33 ticks is 95443.7176 s: a segment 20 s past it carries a PTS of 20 s.
    offset_s = 2 ** 33 / mpegts.PTS_HZ + 20.0
    pts = mpegts.first_video_pts(colour_ts(tmp_path / "wrapped.ts", offset_s))
    assert pts == pytest.approx(20 * mpegts.PTS_HZ, abs=1)
    sequence = round(offset_s / 10)
    seconds, clock = stream_clock(sequence, 10.0, pts)
    assert clock == CLOCK_PTS and seconds == pytest.approx(offset_s, abs=1e-5)


def test_hls_segments_carry_their_place_on_the_stream(tmp_path):
    """ffmpeg's HLS muxer starting at -output_ts_offset 100: each segment's PTS is 100 + 2 x n (+ its mux delay)."""
    command = hls_command(os.devnull, str(tmp_path), name="s_", segment_seconds=2, gop_frames=25)
    source = ["-f", "lavfi", "-i", "color=c=blue:s=64x48:r=25:d=6"]
    at = command.index("-i")
    command[at:at + 2] = source
    command[command.index("-f", at + len(source)):command.index("-f", at + len(source))] = ["-output_ts_offset", "100"]
    subprocess.run(command, check=True)
    names = sorted(n for n in os.listdir(tmp_path) if n.endswith(".ts"))
    starts = [mpegts.first_video_pts((tmp_path / n).read_bytes()[:6016]) / mpegts.PTS_HZ for n in names]
    delay = starts[0] - 100
    assert 0 <= delay < 2 and starts == pytest.approx([100 + delay + 2 * n for n in range(len(names))], abs=1e-6)


def test_no_video_pes_means_no_pts():
    pat_only = bytes([0x47, 0x40, 0x00, 0x10]) + b"\x00" * 184
    assert mpegts.first_video_pts(pat_only * 8) is None
    assert mpegts.first_video_pts(b"") is None


@pytest.mark.parametrize(
    "sequence,pts_s,expected",
    [
        (0, 1.4, (1.4, CLOCK_PTS)),  # ffmpeg's HLS muxer starts at 1.4 s
        (7, 71.4, (71.4, CLOCK_PTS)),
        (7, 73.25, (73.25, CLOCK_PTS)),  # not sequence x 10: the PTS is exact
        (1000, 10010.0, (10010.0, CLOCK_PTS)),  # 10.01 s segments drift 10 s in 1000: still continuous
        (1, 1.4, (10.0, CLOCK_SEQUENCE)),  # a PTS from another slot: timestamps restarted
        (500, 3.0, (5000.0, CLOCK_SEQUENCE)),
        (3, None, (30.0, CLOCK_SEQUENCE)),  # no timestamp at all
    ],
)
def test_stream_clock(sequence, pts_s, expected):
    pts = None if pts_s is None else round(pts_s * mpegts.PTS_HZ)
    seconds, clock = stream_clock(sequence, 10.0, pts)
    assert (pytest.approx(seconds, abs=1e-6), clock) == expected


@pytest.mark.parametrize(
    "key,playlist",
    [
        ("live/cam-1/channel_720p_00000012.ts", "live/cam-1/channel_720p.m3u8"),  # MediaLive
        ("live/cam-1/segment_00012.ts", "live/cam-1/segment.m3u8"),  # devstack stream
        ("live/a/b/seg-7.TS", "live/a/b/seg.m3u8"),
        ("live/cam/00012.ts", "live/cam/index.m3u8"),
    ],
)
def test_playlist_key(key, playlist):
    assert playlist_key(key) == playlist


PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:10
#EXT-X-MEDIA-SEQUENCE:11
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000Z
#EXTINF:10.000,
channel_720p_00000011.ts
#EXTINF:10.010,
channel_720p_00000012.ts
"""


def test_program_date_time_of_a_listed_segment_and_of_the_next_one():
    assert program_date_time(PLAYLIST, "channel_720p_00000012.ts", 12) == datetime.datetime(2026, 11, 25, 12, 0, 10, tzinfo=UTC)
    # Not listed yet (the playlist is rewritten after the segment): the last entry's date plus its duration.
    assert program_date_time(PLAYLIST, "channel_720p_00000013.ts", 13) == datetime.datetime(
        2026, 11, 25, 12, 0, 20, 10000, tzinfo=UTC)
    # Further away (late, redriven): unknown.
    assert program_date_time(PLAYLIST, "channel_720p_00000015.ts", 15) is None
    assert program_date_time(PLAYLIST.replace("#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000Z\n", ""),
                             "channel_720p_00000012.ts", 12) is None


def test_wall_clock_prefers_the_playlist():
    uploaded = datetime.datetime(2026, 11, 25, 12, 0, 31, 500000, tzinfo=UTC)
    dated = datetime.datetime(2026, 11, 25, 12, 0, 20, tzinfo=UTC)
    assert wall_clock(dated, uploaded, 10.0) == ("2026-11-25T12:00:20.000Z", WALL_PROGRAM_DATE_TIME)
    assert wall_clock(None, uploaded, 10.0) == ("2026-11-25T12:00:21.500Z", WALL_UPLOAD_TIME)
