"""The live-stream simulator: an upload error stops ffmpeg too (nothing keeps cutting in the background)."""

import subprocess

import pytest

from devstack import stream
from devstack.errors import DevstackError


class FailingS3:
    def upload_file(self, *args, **kwargs):
        raise ConnectionError("upload failed")


def test_realtime_stream_leaves_no_ffmpeg_after_an_upload_error(monkeypatch, tmp_path):
    from videos.samples import sample_path

    started = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        if "-i" in args[0]:  # the cutting ffmpeg (not a `-version` probe)
            started.append(process)
        return process

    monkeypatch.setattr(stream.subprocess, "Popen", recording_popen)
    with pytest.raises(ConnectionError):
        # 2-second segments at the video's pace: the first upload fails while ffmpeg still has ~8 s to go.
        stream.stream_video(sample_path("bikes.mp4"), FailingS3(), "bucket", "live", "s", segment_seconds=2,
                            realtime=True, progress=False)
    (ffmpeg,) = started
    assert ffmpeg.poll() is not None, "ffmpeg still running after the upload error"


def test_check_video_says_what_is_wrong(tmp_path):
    with pytest.raises(DevstackError, match="no such file"):
        stream.check_video(str(tmp_path / "missing.mp4"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DevstackError, match="not a video"):
        stream.check_video(str(tmp_path / "notes.txt"))
