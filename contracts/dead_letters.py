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
from dataclasses import dataclass
from typing import Any

from contracts import segments, workflow

#: ``kind`` of a message the workflow wrote (the events queue holds EventBridge's own messages).
WORKFLOW_FAILURE_KIND = "workflow-failure"

#: The error name Step Functions gives a non-2xx answer of the endpoint's container.
ENDPOINT_MODEL_ERROR = "SageMakerRuntime.ModelErrorException"
#: How SageMaker Runtime relays the container's body in a ModelError's message (documented format).
_RELAYED = ('with message "', '". See ')


def endpoint_error_code(cause: str) -> str | None:
    """The ``error`` code of the endpoint's JSON body, relayed in a ModelError's cause.

    Step Functions hands a Catch only ``Error`` and ``Cause`` (text): the
    container's body is inside SageMaker's message, which this reads as JSON
    rather than searching it with patterns.
    """
    start, end = cause.find(_RELAYED[0]), cause.rfind(_RELAYED[1])
    if start < 0 or end <= start:
        return None
    try:
        body = json.loads(cause[start + len(_RELAYED[0]):end])
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def message_parameters(failed_state: str) -> dict[str, Any]:
    """``Parameters`` of the Pass state that assembles the message for ``failed_state``.

    The Catch that leads here stores the error at :data:`contracts.workflow.FAILURE_PATH`.
    """
    return {
        "kind": WORKFLOW_FAILURE_KIND,
        "failed_state": failed_state,
        "error.$": f"{workflow.FAILURE_PATH}.Error",
        "cause.$": f"{workflow.FAILURE_PATH}.Cause",
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

        A rejected segment's reason (``NOT_MPEG_TS`` ...), carried by the
        error's name ``SegmentRejected.<REASON>``; the endpoint's error code,
        upper-cased (``SEGMENT_TOO_LONG`` ...), when the endpoint refused the
        segment; otherwise the error name.
        """
        rejected = segments.rejection_reason(self.error)
        if rejected is not None:
            return rejected.value
        if self.error == ENDPOINT_MODEL_ERROR:
            code = endpoint_error_code(self.cause or "")
            if code:
                return code.upper()
        return self.error

    @property
    def object_key(self) -> str | None:
        return (self.event.get("detail") or {}).get("object", {}).get("key")

    @classmethod
    def from_body(cls, body: str) -> "DeadLetter":
        data = json.loads(body)
        if data.get("kind") != WORKFLOW_FAILURE_KIND:
            raise ValueError(f"not a workflow dead letter (kind {data.get('kind')!r}): {body[:200]}")
        return cls(
            failed_state=data["failed_state"],
            error=data.get("error", ""),
            cause=data.get("cause", ""),
            event=data.get("event", {}),
            execution_arn=data.get("execution_arn", ""),
            failed_at=data.get("failed_at", ""),
        )


# --- The events dead-letter queue: events EventBridge could not deliver to the workflow ---------

#: The message attributes EventBridge sets on an event it could not deliver to a target (the
#: message body is the event itself). The local stack's rule-targets bridge writes the same.
ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN = "ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN"
UNDELIVERED_ATTRIBUTES = (ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN)


@dataclass(frozen=True)
class UndeliveredEvent:
    """An event in the events dead-letter queue: the workflow never ran for it."""

    error_code: str
    error_message: str
    rule_arn: str
    target_arn: str
    event: dict[str, Any]
    #: When EventBridge gave up (the message's ``SentTimestamp``), ISO 8601 UTC, or "".
    sent_at: str

    @property
    def object_key(self) -> str | None:
        detail = self.event.get("detail") if isinstance(self.event, dict) else None
        return ((detail or {}).get("object") or {}).get("key")

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "UndeliveredEvent":
        """From an SQS message as ``ReceiveMessage`` returns it (with ``MessageAttributeNames=["All"]``)."""
        import datetime

        attributes = message.get("MessageAttributes") or {}
        text = {name: (attributes.get(name) or {}).get("StringValue", "") for name in UNDELIVERED_ATTRIBUTES}
        try:
            event = json.loads(message.get("Body") or "")
        except ValueError:
            event = {"body": message.get("Body")}
        sent = (message.get("Attributes") or {}).get("SentTimestamp")
        sent_at = (
            datetime.datetime.fromtimestamp(int(sent) / 1000, datetime.timezone.utc).isoformat(timespec="seconds")
            if sent else ""
        )
        return cls(text[ERROR_CODE], text[ERROR_MESSAGE], text[RULE_ARN], text[TARGET_ARN],
                   event if isinstance(event, dict) else {"body": event}, sent_at)
