"""The dead-letter message: what a failed segment leaves behind.

Two queues exist and are told apart by queue and by ``kind``:

- the *workflow* dead-letter queue gets one message per failed execution,
  built by the state machine (:func:`message_parameters`);
- the *events* dead-letter queue gets EventBridge events that could not be
  delivered to the state machine at all (EventBridge writes those itself, with
  its own ``ERROR_CODE``/``ERROR_MESSAGE`` message attributes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

WORKFLOW_FAILURE_KIND = "workflow-failure"

#: Where the workflow assembles the message before sending it.
MESSAGE_PATH = "$.dead_letter"

_REASON = re.compile(r"^([A-Z][A-Z_]+):")
#: The endpoint's JSON error code, as it appears (escaped or not) inside a ModelError's cause.
_ENDPOINT_CODE = re.compile(r'\\*"error\\*"\s*:\s*\\*"([a-z_]+)\\*"')


def message_parameters(failed_state: str) -> dict[str, Any]:
    """``Parameters`` of the Pass state that assembles the message for ``failed_state``.

    The Catch that leads here stores the error at ``$.failure``.
    """
    return {
        "kind": WORKFLOW_FAILURE_KIND,
        "failed_state": failed_state,
        "error.$": "$.failure.Error",
        "cause.$": "$.failure.Cause",
        "event.$": "$$.Execution.Input",
        "execution_arn.$": "$$.Execution.Id",
        "failed_at.$": "$$.State.EnteredTime",
    }


@dataclass(frozen=True)
class DeadLetter:
    """A parsed workflow dead-letter message."""

    failed_state: str
    error: str
    cause: str
    event: dict[str, Any]
    execution_arn: str
    failed_at: str

    @property
    def reason(self) -> str:
        """A short machine-readable reason.

        A rejected segment's reason code (``NOT_MPEG_TS`` ...) when the
        validation Lambda gave one; the endpoint's error code, upper-cased
        (``SEGMENT_TOO_LONG`` ...), when the endpoint refused the segment;
        otherwise the error name.
        """
        message = self.cause
        try:
            message = json.loads(self.cause).get("errorMessage", self.cause)
        except (ValueError, AttributeError):
            pass
        match = _REASON.match(message or "")
        if match:
            return match.group(1)
        endpoint = _ENDPOINT_CODE.search(self.cause or "")
        return endpoint.group(1).upper() if endpoint else self.error

    @property
    def object_key(self) -> str | None:
        return (self.event.get("detail") or {}).get("object", {}).get("key")

    @classmethod
    def from_body(cls, body: str) -> "DeadLetter":
        data = json.loads(body)
        return cls(
            failed_state=data["failed_state"],
            error=data.get("error", ""),
            cause=data.get("cause", ""),
            event=data.get("event", {}),
            execution_arn=data.get("execution_arn", ""),
            failed_at=data.get("failed_at", ""),
        )
