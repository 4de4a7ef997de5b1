"""Live-stream simulator and backfill: cut video into 10-second HLS segments and upload them.

The same code feeds the local stack or a real deployment: it only needs an S3
client and the livestream bucket. Segments are uploaded as ffmpeg finishes
them (the playlist names a segment once it is complete), with the playlist
itself uploaded after each, as MediaLive does.

Key layout: ``<stream prefix>/<stream id>/segment_<5 digits>.ts`` and
``<stream prefix>/<stream id>/index.m3u8``.
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

from videos.samples import hls_command

SEGMENT_NAME = "segment_"
PLAYLIST = "index.m3u8"


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
    base = f"{stream_prefix.strip('/')}/{stream_id}"
    with tempfile.TemporaryDirectory(prefix="hls-") as workdir:
        command = hls_command(
            video, workdir, name=SEGMENT_NAME, segment_seconds=segment_seconds, loops=loops, realtime=realtime
        )
        process = subprocess.Popen(command, stderr=subprocess.PIPE)
        playlist = os.path.join(workdir, PLAYLIST)
        bar = tqdm(total=expected_segments(video, segment_seconds, loops), unit="segment", disable=not progress,
                   desc=f"streaming {os.path.basename(video)} -> s3://{bucket}/{base}/")
        done: set[str] = set()
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
        bar.close()
        if process.returncode != 0:
            raise RuntimeError(f"ffmpeg failed on {video}: {process.stderr.read().decode(errors='replace')[-500:]}")
    return uploaded


def cut_and_upload(
    videos: Iterable[str],
    s3,
    bucket: str,
    stream_prefix: str,
    concurrency: int = 4,
    segment_seconds: int = 10,
    wait_for: Callable[[list[str]], None] | None = None,
    progress: bool = True,
) -> dict[str, list[str]]:
    """Backfill recorded video: every file's segments, uploaded with at most ``concurrency`` in flight.

    Each file becomes its own stream (its file name without extension). When
    ``wait_for`` is given, uploads go in batches of ``concurrency`` and each
    batch's outcomes are awaited before the next, which bounds the work in flight.
    """
    from videos.samples import cut_segments

    plan: list[tuple[str, str]] = []
    keys: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="backfill-") as workdir:
        for index, video in enumerate(videos):
            stream_id = os.path.splitext(os.path.basename(video))[0].replace(" ", "-") or f"recording-{index}"
            paths = cut_segments(video, os.path.join(workdir, str(index)), name=SEGMENT_NAME, segment_seconds=segment_seconds)
            for path in paths:
                key = f"{stream_prefix.strip('/')}/{stream_id}/{os.path.basename(path)}"
                plan.append((path, key))
                keys.setdefault(stream_id, []).append(key)
        bar = tqdm(total=len(plan), unit="segment", desc="backfill", disable=not progress)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for start in range(0, len(plan), concurrency):
                batch = plan[start : start + concurrency]
                list(pool.map(lambda item: s3.upload_file(item[0], bucket, item[1]), batch))
                if wait_for:
                    wait_for([key for _, key in batch])
                bar.update(len(batch))
        bar.close()
    return keys
