"""Live-stream simulator and backfill: cut video into 10-second HLS segments and upload them.

The same code feeds the local stack or a real deployment: it only needs an S3
client and the livestream bucket. Segments are uploaded as ffmpeg finishes
them (the playlist names a segment once it is complete), with the playlist
itself uploaded after each, as MediaLive does.

Key layout: ``<stream prefix>/<stream id>/segment_<5 digits>.ts`` and the playlist that
lists them, ``<stream prefix>/<stream id>/segment.m3u8`` (contracts.segments.playlist_key),
dated with ``EXT-X-PROGRAM-DATE-TIME`` (the segments' wall clock).
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

import cv2
from tqdm import tqdm

from contracts.segments import playlist_key, stream_folder
from devstack.errors import DevstackError
from videos.samples import hls_command

SEGMENT_NAME = "segment_"
PLAYLIST = playlist_key(f"{SEGMENT_NAME}00000.ts")


class NotAVideo(DevstackError):
    """A path that is missing or holds no video frames OpenCV can read."""


def check_video(path: str) -> None:
    """Raise :class:`NotAVideo` (one line, what to do) unless ``path`` is a readable video file."""
    if not os.path.exists(path):
        raise NotAVideo(f"no such file: {path}")
    if not os.path.isfile(path):
        raise NotAVideo(f"not a file: {path} (give a video file)")
    capture = cv2.VideoCapture(path)
    try:
        readable = capture.isOpened() and capture.read()[0]
    finally:
        capture.release()
    if not readable:
        raise NotAVideo(f"not a video: {path} (no frame could be decoded from it)")


@dataclass
class Uploaded:
    keys: list[str] = field(default_factory=list)  # .ts keys, in order
    playlist_uploads: int = 0


def expected_segments(video: str, segment_seconds: int, loops: int = 0) -> int:
    capture = cv2.VideoCapture(video)
    frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    return max(1, math.ceil(frames / fps / segment_seconds - 1e-6)) * (loops + 1)


def _completed_segments(playlist: str) -> list[str]:
    if not os.path.exists(playlist):
        return []
    with open(playlist) as handle:
        return [line.strip() for line in handle if line.strip().endswith(".ts")]


def stream_video(
    video: str,
    s3,
    bucket: str,
    stream_prefix: str,
    stream_id: str,
    segment_seconds: int = 10,
    realtime: bool = False,
    loops: int = 0,
    progress: bool = True,
    on_upload: Callable[[str], None] | None = None,
) -> Uploaded:
    """Cut ``video`` with ffmpeg's HLS muxer and upload each segment as soon as it is complete."""
    uploaded = Uploaded()
    base = stream_folder(stream_prefix, stream_id).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="hls-") as workdir:
        command = hls_command(
            video, workdir, name=SEGMENT_NAME, segment_seconds=segment_seconds, loops=loops, realtime=realtime,
            playlist=PLAYLIST, program_date_time=True,
        )
        errors_file = os.path.join(workdir, "ffmpeg.err")
        with open(errors_file, "wb") as ffmpeg_errors:
            process = subprocess.Popen(command, stderr=ffmpeg_errors)
        playlist = os.path.join(workdir, PLAYLIST)
        bar = tqdm(total=expected_segments(video, segment_seconds, loops), unit="segment", disable=not progress,
                   desc=f"streaming {os.path.basename(video)} -> s3://{bucket}/{base}/")
        done: set[str] = set()
        try:
            while True:
                finished = process.poll() is not None
                for name in _completed_segments(playlist):
                    if name in done:
                        continue
                    key = f"{base}/{name}"
                    s3.upload_file(os.path.join(workdir, name), bucket, key, ExtraArgs={"ContentType": "video/mp2t"})
                    s3.upload_file(playlist, bucket, f"{base}/{PLAYLIST}", ExtraArgs={"ContentType": "application/vnd.apple.mpegurl"})
                    done.add(name)
                    uploaded.keys.append(key)
                    uploaded.playlist_uploads += 1
                    bar.update(1)
                    if on_upload:
                        on_upload(key)
                if finished:
                    break
                time.sleep(0.2)
        finally:
            # An upload error (or Ctrl-C, SIGTERM) must not leave ffmpeg cutting on its own.
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            bar.close()
        if process.returncode != 0:
            with open(errors_file, "rb") as handle:
                detail = handle.read().decode(errors="replace").strip().splitlines()
            raise DevstackError(f"ffmpeg failed on {video}: {detail[-1] if detail else f'exit code {process.returncode}'}")
    return uploaded


def stream_ids(videos: list[str]) -> dict[str, str]:
    """One distinct stream id per file: its name without extension (spaces as ``-``).

    Files whose names collide (``a/cam.mp4`` and ``b/cam.mp4``) are told apart by
    their folders below the deepest folder they share (``a/cam`` and ``b/cam``:
    nested stream ids are allowed), so no file overwrites another's segments.
    """

    def clean(name: str) -> str:
        return os.path.splitext(name)[0].replace(" ", "-") or "recording"

    paths = {video: os.path.abspath(video) for video in videos}
    by_name: dict[str, list[str]] = {}
    for video in videos:
        by_name.setdefault(clean(os.path.basename(video)), []).append(video)
    ids: dict[str, str] = {}
    for name, same in by_name.items():
        if len(same) == 1:
            ids[same[0]] = name
            continue
        base = os.path.commonpath([os.path.dirname(paths[v]) for v in same])
        for video in same:
            relative = os.path.relpath(paths[video], base)
            ids[video] = "/".join(clean(part) for part in relative.split(os.sep))
    return ids


@dataclass
class Backfilled:
    streams: dict[str, list[str]] = field(default_factory=dict)  # stream id -> keys uploaded
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)


def cut_and_upload(
    videos: Iterable[str],
    s3,
    bucket: str,
    stream_prefix: str,
    concurrency: int = 4,
    segment_seconds: int = 10,
    wait_for: Callable[[list[str]], None] | None = None,
    progress: bool = True,
    on_skip: Callable[[str, str], None] | None = None,
) -> Backfilled:
    """Backfill recorded video: every file's segments, uploaded with at most ``concurrency`` in flight.

    Each file becomes its own stream (:func:`stream_ids`). A file that is not a
    video (or that ffmpeg cannot cut) is skipped and reported through ``on_skip``;
    the other files still upload. When ``wait_for`` is given, uploads go in
    batches of ``concurrency`` and each batch's outcomes are awaited before the
    next, which bounds the work in flight.
    """
    from videos.samples import cut_segments

    videos = list(videos)
    result = Backfilled()
    plan: list[tuple[str, str]] = []
    ids = stream_ids(videos)

    def skip(video: str, why: str) -> None:
        result.skipped.append((video, why))
        if on_skip:
            on_skip(video, why)

    with tempfile.TemporaryDirectory(prefix="backfill-") as workdir:
        for index, video in enumerate(videos):
            try:
                check_video(video)
                paths = cut_segments(video, os.path.join(workdir, str(index)), name=SEGMENT_NAME, segment_seconds=segment_seconds)
            except NotAVideo as error:
                skip(video, str(error))
                continue
            except subprocess.CalledProcessError as error:
                skip(video, f"ffmpeg could not cut {video} (exit code {error.returncode})")
                continue
            stream_id = ids[video]
            for path in paths:
                key = stream_folder(stream_prefix, stream_id) + os.path.basename(path)
                plan.append((path, key))
                result.streams.setdefault(stream_id, []).append(key)
        bar = tqdm(total=len(plan), unit="segment", desc="backfill", disable=not progress)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for start in range(0, len(plan), concurrency):
                batch = plan[start : start + concurrency]
                list(pool.map(lambda item: s3.upload_file(item[0], bucket, item[1]), batch))
                if wait_for:
                    wait_for([key for _, key in batch])
                bar.update(len(batch))
        bar.close()
    return result
