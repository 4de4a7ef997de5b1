"""Evidence for an episode: a snapshot JPEG of its best frame and an MP4 clip, cut with ffmpeg.

- snapshot: the sampled frame where the label scored highest (the episode's
  ``peak_seconds`` on the stream clock), decoded from the segment holding it;
- clip: the covering segments joined and remuxed to MP4 **without re-encoding**
  (``-c copy``), from ``preroll`` seconds before the start to ``postroll``
  after the end, at most ``max_clip`` seconds. Without re-encoding a cut can
  only begin on a keyframe: the clip starts at the keyframe at or before the
  requested time (segments have a 2-second GOP, so at most 2 s earlier).

Written to ``s3://<evidence bucket>/<evidence prefix>/<stream id>/<episode id>/``
(``snapshot.jpg``, ``clip.mp4``), a prefix with its own lifecycle, longer than
the segments'. ``ActivityStarted`` gets the snapshot so far; ``ActivityEnded``
the final snapshot and the clip.

Settings: the Lambda's :class:`contracts.environment.EpisodesEnvironment`.
ffmpeg: ``ffmpeg_path`` (the Lambda layer puts the static binary from the
``imageio-ffmpeg`` wheel at ``/opt/bin/ffmpeg``) when it exists, else
``ffmpeg`` on the path, else the ``imageio-ffmpeg`` package's binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404: runs our own ffmpeg binary with fixed arguments, no shell
import tempfile
from dataclasses import dataclass
from typing import Any, Sequence

import boto3

from contracts import episodes as ep
from contracts.environment import EpisodesEnvironment

FFMPEG_TIMEOUT_SECONDS = 20


@dataclass
class Made:
    snapshot_uri: str | None = None
    clip_uri: str | None = None
    error: str | None = None


def ffmpeg_binary(configured: str) -> str:
    if configured and os.path.exists(configured):
        return configured
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg  # the local stack and tests

    return imageio_ffmpeg.get_ffmpeg_exe()


def evidence_key(prefix: str, stream_id: str, episode_id: str, name: str) -> str:
    return f"{prefix.strip('/')}/{stream_id}/{episode_id}/{name}"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _run(ffmpeg: str, arguments: list[str]) -> None:
    completed = subprocess.run(  # nosec B603: fixed argument list, no shell
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *arguments],
        capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {completed.stderr.decode(errors='replace')[-300:]}")


def clip_window(start: float, end: float, preroll: float, postroll: float, max_clip: float) -> tuple[float, float]:
    """The clip's [from, to) on the stream clock: pre/post-roll added, at most ``max_clip`` long."""
    begin = max(0.0, start - preroll)
    return begin, min(end + postroll, begin + max_clip)


def covering(records: Sequence[dict[str, Any]], begin: float, end: float) -> list[dict[str, Any]]:
    """The contiguous run of records (by sequence) overlapping [begin, end)."""
    chosen = []
    for record in sorted(records, key=lambda r: int(r["segment_seq"])):
        start = float(record.get("stream_seconds", record["start_seconds"]))
        if start < end and start + float(record["duration_seconds"]) > begin:
            if chosen and int(record["segment_seq"]) != int(chosen[-1]["segment_seq"]) + 1:
                break
            chosen.append(record)
    return chosen


def make(detail_type: str, detail: dict[str, Any], records: Sequence[dict[str, Any]], config: EpisodesEnvironment) -> Made:
    """Cut and upload the evidence for one episode event; failures are reported, never raised."""
    bucket = config.evidence_bucket
    if not bucket:
        return Made()
    s3 = boto3.client("s3")
    made = Made()
    try:
        ffmpeg = ffmpeg_binary(config.ffmpeg_path)
        with tempfile.TemporaryDirectory() as work:
            peak = float(detail["peak_seconds"])
            holder = covering(records, peak, peak + 1e-3)
            if holder:
                segment = holder[0]
                source = os.path.join(work, "peak.ts")
                s3.download_file(*_split(segment["s3_uri"]), source)
                offset = max(0.0, peak - float(segment.get("stream_seconds", segment["start_seconds"])))
                target = os.path.join(work, "snapshot.jpg")
                _run(ffmpeg, ["-ss", f"{offset:.3f}", "-i", source, "-frames:v", "1", "-q:v", "3", target])
                key = evidence_key(config.evidence_prefix, detail["stream_id"], detail["episode_id"], "snapshot.jpg")
                s3.upload_file(target, bucket, key, ExtraArgs={"ContentType": "image/jpeg"})
                made.snapshot_uri = f"s3://{bucket}/{key}"
            if detail_type == ep.ACTIVITY_ENDED:
                begin, end = clip_window(
                    float(detail["start_seconds"]), float(detail["end_seconds"]),
                    config.evidence_preroll_seconds, config.evidence_postroll_seconds, config.evidence_max_clip_seconds,
                )
                parts = covering(records, begin, end)
                if parts:
                    joined = os.path.join(work, "joined.ts")
                    with open(joined, "wb") as out:  # MPEG-TS segments of one stream join by concatenation
                        for i, part in enumerate(parts):
                            local = os.path.join(work, f"part{i}.ts")
                            s3.download_file(*_split(part["s3_uri"]), local)
                            with open(local, "rb") as handle:
                                shutil.copyfileobj(handle, out)
                    first = float(parts[0].get("stream_seconds", parts[0]["start_seconds"]))
                    target = os.path.join(work, "clip.mp4")
                    _run(ffmpeg, ["-ss", f"{max(0.0, begin - first):.3f}", "-i", joined, "-t", f"{end - begin:.3f}",
                          "-c", "copy", "-map", "0:v:0", "-map", "0:a?", "-movflags", "+faststart", target])
                    key = evidence_key(config.evidence_prefix, detail["stream_id"], detail["episode_id"], "clip.mp4")
                    s3.upload_file(target, bucket, key, ExtraArgs={"ContentType": "video/mp4"})
                    made.clip_uri = f"s3://{bucket}/{key}"
    except Exception as error:  # evidence is best effort: the event still goes out, saying why
        made.error = f"{type(error).__name__}: {error}"[:500]
    return made
