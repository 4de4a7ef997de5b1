"""Events on the stack's event bus: their source and detail types, and the workflow's own event.

Every event this pipeline sends has the source :data:`SOURCE` and one of
:data:`DETAIL_TYPES`. The workflow publishes :data:`ACTIVITY_DETECTED` (opt-in,
per segment): an :class:`EventKind`, its detail fields each with the workflow
path it is taken from; the definition builds its ``events:putEvents`` entry
from it (:meth:`EventKind.asl_entry`), the alert rule matches its pattern
(:func:`pattern`), and readers parse the detail with :meth:`EventKind.parse`.
The episodes Lambda sends the episode and stream events; their details are
built by ``contracts.episodes.event_detail``. The e-mail rules
(``infra.alerts.SENTENCES``) have one sentence per detail type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import workflow

SOURCE = "activity-detection"


def pattern(detail_type: str) -> dict[str, list[str]]:
    """The EventBridge pattern that matches one detail type of this pipeline's events."""
    return {"source": [SOURCE], "detail-type": [detail_type]}


@dataclass(frozen=True)
class EventKind:
    detail_type: str
    #: ``(detail field, workflow path)``, in order.
    detail: tuple[tuple[str, str], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.detail)

    def pattern(self) -> dict[str, list[str]]:
        """The EventBridge pattern that matches this kind."""
        return pattern(self.detail_type)

    def asl_entry(self, bus_name: str) -> dict[str, Any]:
        """One entry of a ``events:putEvents`` task's ``Entries``."""
        return {
            "EventBusName": bus_name,
            "Source": SOURCE,
            "DetailType": self.detail_type,
            "Detail": {f"{name}.$": path for name, path in self.detail},
        }

    def parse(self, event: dict[str, Any]) -> dict[str, Any]:
        """The detail of an event of this kind (as EventBridge delivers it); other events are an error."""
        if event.get("source") != SOURCE or event.get("detail-type") != self.detail_type:
            raise ValueError(f"not an {self.detail_type} event: {event.get('source')} {event.get('detail-type')!r}")
        detail = event["detail"]
        missing = [name for name in self.fields if name not in detail]
        if missing:
            raise ValueError(f"{self.detail_type} event without {', '.join(missing)}")
        return {name: detail[name] for name in self.fields}


ACTIVITY_DETECTED = EventKind(
    "ActivityDetected",
    (
        ("stream_id", workflow.segment("stream_id")),
        ("segment_seq", workflow.segment("sequence")),
        ("start_seconds", workflow.segment("start_seconds")),
        ("label", workflow.result("label")),
        ("probability", workflow.result("probability")),
        ("s3_uri", workflow.segment("s3_uri")),
    ),
)

#: Every kind the workflow publishes.
KINDS = (ACTIVITY_DETECTED,)

#: What the episodes Lambda sends (details: ``contracts.episodes.event_detail``).
ACTIVITY_STARTED = "ActivityStarted"
ACTIVITY_ENDED = "ActivityEnded"
STREAM_STALLED = "StreamStalled"
STREAM_RESUMED = "StreamResumed"
EPISODE_DETAIL_TYPES = (ACTIVITY_STARTED, ACTIVITY_ENDED)
STREAM_DETAIL_TYPES = (STREAM_STALLED, STREAM_RESUMED)

#: Every detail type on the bus.
DETAIL_TYPES = (*EPISODE_DETAIL_TYPES, *STREAM_DETAIL_TYPES, *(kind.detail_type for kind in KINDS))
