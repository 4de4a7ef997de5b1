"""One request to one response: the logic both serving contracts share.

Request and response: ``contracts.endpoint`` (``EndpointRequest``, ``EndpointResponse``);
limits: the endpoint's environment (``contracts.environment.EndpointEnvironment``).
``clips`` = 1 scores the segment's centre clip (GluonCV's test-time sampling);
``clips`` = K scores K clips spread evenly over the segment and averages them,
which also gives a timeline inside the segment.
"""

import json
import logging
import math
import os
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from contracts.endpoint import (
    CLIPS_RANGE,
    MIN_CONFIDENCE_RANGE,
    NO_CONFIDENT_ACTIVITY,
    TOP_K_LOW,
    EndpointRequest,
    EndpointResponse,
)
from contracts.environment import EndpointEnvironment
from inference import errors
from inference.clips import ClipReader
from inference.predictor import Predictor
from inference.s3source import S3Source
from inference.sampling import short_video_note

LOG = logging.getLogger(__name__)

JSON = "application/json"
_DEFAULTS = EndpointRequest(s3_uri="")


class Limits:
    """Bounds on what a request may make the endpoint do: the endpoint's environment (no defaults)."""

    def __init__(self, env: Optional[Mapping[str, str]] = None):
        environment = EndpointEnvironment.from_environ(env)
        self.max_bytes = environment.max_segment_bytes
        self.max_duration_s = environment.max_segment_seconds
        self.max_pixels = environment.max_frame_pixels
        self.allowed_buckets = list(environment.allowed_buckets)


def _option(request: Dict[str, Any], name: str, kind, default, low, high):
    """A numeric option within ``[low, high]``; JSON's ``Infinity``/``NaN``/``1e400`` are refused."""
    value = request.get(name, default)
    wanted = "an integer" if kind is int else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.InferenceError(errors.INVALID_REQUEST, "{} must be {}".format(name, wanted))
    if isinstance(value, float) and not math.isfinite(value):
        raise errors.InferenceError(errors.INVALID_REQUEST, "{} must be a finite number".format(name))
    if not low <= value <= high:  # before int(): exact for any int and any finite float
        raise errors.InferenceError(errors.INVALID_REQUEST, "{} must be between {} and {}".format(name, low, high))
    if kind is int and value != int(value):
        raise errors.InferenceError(errors.INVALID_REQUEST, "{} must be {}".format(name, wanted))
    return kind(value)


def respond(service: "InferenceService", body: Any, content_type: Optional[str]) -> Tuple[int, str]:
    """One request (raw body and Content-Type) to ``(HTTP status, JSON body)``.

    Every refusal is a 4xx with ``{"error": code, "message": ...}``; anything
    unexpected is a 500 ``internal_error`` (logged with its traceback, never sent).
    """
    if content_type and JSON not in content_type:
        return 415, json.dumps({"error": errors.INVALID_REQUEST, "message": "send application/json"})
    try:
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        request = json.loads(body)
    except ValueError as error:
        return 400, json.dumps({"error": errors.INVALID_REQUEST, "message": "the body is not JSON: {}".format(error)})
    try:
        return 200, json.dumps(service.handle(request), allow_nan=False)
    except errors.InferenceError as error:
        return error.status, json.dumps(error.to_dict())
    except Exception:  # keep the worker serving: the cause goes to the log, not to the client
        LOG.exception("invocation failed")
        return 500, json.dumps({"error": errors.INTERNAL_ERROR, "message": "the endpoint failed on this segment; see its log"})


class InferenceService:
    def __init__(self, model_dir: str, limits: Optional[Limits] = None, predictor: Optional[Predictor] = None):
        self.limits = limits or Limits()
        self.predictor = predictor or Predictor(model_dir)
        manifest = self.predictor.manifest
        self.clip_reader = ClipReader(manifest)
        self.clip_length, self.frame_step = self.clip_reader.clip_length, self.clip_reader.frame_step
        self.source = S3Source(self.limits.allowed_buckets, self.limits.max_bytes)
        # The network's static memory plan is not re-entrant: one forward at a time,
        # while downloads and decoding of other requests go on in parallel.
        self._forward_lock = threading.Lock()

    def handle(self, request: Any) -> Dict[str, Any]:
        if not isinstance(request, dict):
            raise errors.InferenceError(errors.INVALID_REQUEST, "the request body must be a JSON object")
        uri = request.get("s3_uri")
        top_k = _option(request, "top_k", int, _DEFAULTS.top_k, TOP_K_LOW, len(self.predictor.classes))
        num_clips = _option(request, "clips", int, _DEFAULTS.clips, *CLIPS_RANGE)
        min_confidence = _option(request, "min_confidence", float, _DEFAULTS.min_confidence, *MIN_CONFIDENCE_RANGE)
        # Exactly the bytes the workflow validated: this version, or this ETag (IfMatch).
        version_id, etag = _text_option(request, "version_id"), _text_option(request, "etag")
        started = time.perf_counter()
        path, size = self.source.download(uri, version_id=version_id, etag=etag)
        try:
            return self.analyse_file(path, uri, size, top_k, num_clips, min_confidence, started=started)
        finally:
            os.unlink(path)

    def _check_limits(self, facts) -> None:
        if facts.width * facts.height > self.limits.max_pixels:
            raise errors.InferenceError(
                errors.RESOLUTION_TOO_LARGE,
                "{}x{} is above the limit of {} pixels per frame".format(facts.width, facts.height, self.limits.max_pixels),
                413,
            )
        if facts.duration_s > self.limits.max_duration_s:
            raise errors.InferenceError(
                errors.SEGMENT_TOO_LONG,
                "the segment lasts {:.1f} s; the limit is {:.0f} s".format(facts.duration_s, self.limits.max_duration_s),
                413,
            )

    def analyse_file(
        self, path: str, uri: str, size: int, top_k: int = 5, num_clips: int = 1, min_confidence: float = 0.0,
        started: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Decode, sample, score a local file (what :meth:`handle` does after the download)."""
        downloaded = time.perf_counter()
        started = downloaded if started is None else started
        try:
            read = self.clip_reader.read(path, num_clips, check=self._check_limits)
        except EOFError as error:
            # MPEG-TS with a video stream whose frames do not decode (damaged inside, or cut short).
            raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment's frames do not decode: {}".format(error), 422)
        facts, frame_count, clips = read.facts, read.frame_count, read.indices
        decoded = time.perf_counter()
        note = short_video_note(frame_count, self.clip_length, self.frame_step)
        per_clip: List[Dict[str, Any]] = []
        probabilities = []
        forward_s = 0.0
        for indices, tensor in zip(clips, read.tensors):
            with self._forward_lock:
                tick = time.perf_counter()
                scores = self.predictor.probabilities(tensor)
                forward_s += time.perf_counter() - tick
            probabilities.append(scores)
            best = self.predictor.top_k(scores, top_k)
            per_clip.append(
                {
                    "start_s": round(indices[0] / facts.fps, 3),
                    "end_s": round((indices[-1] + 1) / facts.fps, 3),
                    "label": best[0]["label"],
                    "probability": best[0]["probability"],
                    "top_k": best,
                }
            )
        mean = np.mean(probabilities, axis=0)
        ranked = self.predictor.top_k(mean, top_k)
        confident = ranked[0]["probability"] >= min_confidence
        finished = time.perf_counter()
        return EndpointResponse(
            s3_uri=uri,
            label=ranked[0]["label"] if confident else NO_CONFIDENT_ACTIVITY,
            probability=ranked[0]["probability"],
            confident=confident,
            min_confidence=min_confidence,
            top_k=ranked,
            clips=per_clip,
            frames={
                "indices": [clip for clip in clips],
                "timestamps_s": [[round(i / facts.fps, 3) for i in clip] for clip in clips],
                "sampling": "center" if num_clips == 1 else "clips={}".format(num_clips),
                "clip_length": self.clip_length,
                "frame_step": self.frame_step,
                # In the frames the record keeps (a short segment is scored on repeated frames).
                "note": note or None,
            },
            video=dict(facts.to_dict(), frame_count=frame_count, bytes=size),
            model=self.predictor.identity,
            timings_ms={
                "download": round((downloaded - started) * 1000, 1),
                "decode": round((decoded - downloaded) * 1000, 1),
                "forward": round(forward_s * 1000, 1),
                "total": round((finished - started) * 1000, 1),
            },
            warning="random weights: labels are meaningless" if self.predictor.identity["random_weights"] else None,
        ).to_dict()


def _text_option(request: Dict[str, Any], name: str) -> Optional[str]:
    """An optional string option: absent or empty means none."""
    value = request.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 1024:
        raise errors.InferenceError(errors.INVALID_REQUEST, "{} must be a string".format(name))
    return value
