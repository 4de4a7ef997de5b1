"""The endpoint's request and response: what the workflow sends and what it records.

The workflow builds the request (``BuildRequest``) from :meth:`EndpointRequest.asl_parameters`;
the endpoint (``inference.service``) reads it by the same field names and
bounds; its response is an :class:`EndpointResponse`, whose fields the record
(:mod:`contracts.records`) and the alert (:mod:`contracts.events`) read by
path. Shipped in model.tar.gz: Python 3.8.
"""

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, List, Optional

#: Upper bound of ``clips`` (the stack's ``clips`` setting is checked against it too).
MAX_CLIPS = 10
#: Bounds of each numeric request option: (low, high); ``top_k``'s high is the number of classes.
CLIPS_RANGE = (1, MAX_CLIPS)
MIN_CONFIDENCE_RANGE = (0.0, 1.0)
TOP_K_LOW = 1
#: The label of a record below ``min_confidence``.
NO_CONFIDENT_ACTIVITY = "no_confident_activity"
#: The endpoint refuses segments longer than this many times the stack's segment length.
MAX_DURATION_FACTOR = 3


def max_segment_seconds(segment_seconds: float) -> float:
    """The endpoint's duration limit for a stack whose segments last ``segment_seconds``."""
    return segment_seconds * MAX_DURATION_FACTOR


@dataclass(frozen=True)
class EndpointRequest:
    """The JSON body of one InvokeEndpoint call."""

    s3_uri: str
    top_k: int = 5
    clips: int = 1
    min_confidence: float = 0.0
    #: Exactly the validated bytes: this version (versioned bucket), or else this ETag (``IfMatch``).
    version_id: Optional[str] = None
    etag: Optional[str] = None

    @staticmethod
    def asl_parameters(
        s3_uri_path: str, version_id_path: str, etag_path: str, top_k: int, clips: int, min_confidence: float
    ) -> Dict[str, Any]:
        """``Parameters`` of the Pass state that builds the request (the object taken from the state)."""
        return {
            "s3_uri.$": s3_uri_path,
            "version_id.$": version_id_path,
            "etag.$": etag_path,
            "top_k": top_k,
            "clips": clips,
            "min_confidence": min_confidence,
        }


@dataclass(frozen=True)
class EndpointResponse:
    """The endpoint's answer for one segment."""

    s3_uri: str
    #: The best label, or :data:`NO_CONFIDENT_ACTIVITY` below ``min_confidence``.
    label: str
    probability: float
    confident: bool
    min_confidence: float
    #: ``[{"label", "probability"}]``, best first.
    top_k: List[Dict[str, Any]]
    #: Per clip: ``{"start_s", "end_s", "label", "probability", "top_k"}``.
    clips: List[Dict[str, Any]]
    #: Which frames were scored: ``{"indices", "timestamps_s", "sampling", "clip_length", "frame_step", "note"}``;
    #: ``note`` (null unless) says the segment was shorter than a clip and its last frame was repeated.
    frames: Dict[str, Any]
    #: Facts about the decoded video (codec, size, fps, duration, frame count, bytes).
    video: Dict[str, Any]
    #: The model's identity (name, params digest, random_weights ...).
    model: Dict[str, Any]
    timings_ms: Dict[str, float]
    warning: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """The JSON body; optional fields only when set."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "EndpointResponse":
        """Parse a response body; unknown or missing fields are an error (the two sides drifted)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError("unknown response fields: {}".format(", ".join(sorted(unknown))))
        return cls(**data)
