"""SageMaker Runtime's InvokeEndpoint as its callers see it: how a container's answer is relayed,
and which errors are worth retrying.

One definition for the local stack's InvokeEndpoint bridge (which relays the
local MMS endpoint's answers exactly so), the workflow's retry rules and the
tests. From the InvokeEndpoint API reference: a container answer other than 2xx
reaches the caller as ``ModelError`` (HTTP 424) with the container's status in
``OriginalStatusCode`` and its body in ``OriginalMessage``, the message reading
``Received client error (4xx) from primary with message "..."`` or ``Received
server error (5xx) ...``. SageMaker's own refusals have their own names
(``ThrottlingException``, ``ServiceUnavailable``, ``ModelNotReadyException``,
``InternalFailure``, ``ValidationError`` for a body over 6 MB).

**Busy** (the endpoint's bounded work): MMS queues at most ``MMS_JOB_QUEUE_SIZE``
requests per model and answers **503** beyond that, at once. SageMaker relays it
as ``ModelError`` with ``OriginalStatusCode`` 503, so a Step Functions Retry on
the error name alone cannot tell it from a permanent ``ModelError``: the cause
text carries ``Received server error (503)`` (:data:`BUSY_CAUSE_PATTERN`, a
``StringMatches`` pattern for a Choice state). The endpoint itself never answers
503 for a request it refuses on its merits (those are 4xx, and its failures 500).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

MODEL_ERROR = "ModelError"
THROTTLING = "ThrottlingException"
SERVICE_UNAVAILABLE = "ServiceUnavailable"
MODEL_NOT_READY = "ModelNotReadyException"
INTERNAL_FAILURE = "InternalFailure"
VALIDATION_ERROR = "ValidationError"

#: InvokeEndpoint's limit on the request body for a real-time endpoint (6 MB).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
#: The container's status for "busy, try again": MMS's job queue is full.
BUSY_STATUS = 503
#: ``StringMatches`` pattern on a ModelError's cause that marks the busy refusal.
BUSY_CAUSE_PATTERN = f"*Received server error ({BUSY_STATUS})*"
#: SageMaker's own errors that a retry may cure.
RETRYABLE_ERRORS = (THROTTLING, SERVICE_UNAVAILABLE, MODEL_NOT_READY, INTERNAL_FAILURE)


@dataclass(frozen=True)
class Relayed:
    """What the caller of InvokeEndpoint receives."""

    status: int
    error: str | None
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


def service_error(status: int, error: str, message: str, **extra: Any) -> Relayed:
    """An error SageMaker Runtime answers itself (with the headers its SDK clients read)."""
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error, "x-amzn-RequestId": str(uuid.uuid4())}
    return Relayed(status, error, {"message": message, "Message": message, **extra}, headers)


def relay(status: int, body: str, endpoint_name: str = "endpoint", region: str = "us-east-1") -> Relayed:
    """The container's HTTP answer as SageMaker Runtime relays it to the caller."""
    if 200 <= status < 300:
        return Relayed(200, None, body, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())})
    kind = "client" if 400 <= status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    return service_error(
        424,
        MODEL_ERROR,
        f'Received {kind} error ({status}) from primary with message "{body}". '
        f"See the log group {log_group} in region {region} for more information.",
        OriginalStatusCode=status,
        OriginalMessage=body,
        LogStreamArn=f"arn:aws:logs:{region}:000000000000:log-group:{log_group}",
    )


def is_retryable(relayed: Relayed) -> bool:
    """Whether a later attempt may succeed: SageMaker's transient errors, or the busy ModelError."""
    if relayed.error in RETRYABLE_ERRORS:
        return True
    return relayed.error == MODEL_ERROR and isinstance(relayed.body, dict) and relayed.body.get(
        "OriginalStatusCode"
    ) == BUSY_STATUS
