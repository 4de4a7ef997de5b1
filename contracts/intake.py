"""The intake: the buffer in front of the workflow, and what its starter decides for each message.

    S3 Object Created -> EventBridge rule -> intake queue (SQS) -> start-workflow Lambda
        (event source mapping, at most ``intakeMaxConcurrency`` at once) -> StartSyncExecution

A burst (a camera reconnecting with its backlog, a backfill) waits in the queue
instead of piling executions onto the endpoint: at most ``intakeMaxConcurrency``
segments are in the workflow at once, whatever arrives. Each message is deleted
only once its execution reached an outcome (a record, a duplicate, or a dead
letter); otherwise it is tried again later, and after :attr:`IntakeTuning.max_attempts`
tries the event goes to the events dead-letter queue with the reason.

The timings here are the intake's budget, checked by a test: the starter's
timeout covers the longest Express execution, the queue's visibility timeout is
AWS's recommended six times the function's timeout (Lambda, "Using Lambda with
Amazon SQS": "set the source queue's visibility timeout to at least six times the
timeout that you configure on your function"), and the queue's own redrive after
:attr:`IntakeTuning.redrive_receives` receives catches a starter that crashed
before it could say anything. Shipped in the Lambda archive: Python 3.8.
"""

from dataclasses import dataclass
from typing import Optional

from contracts import workflow

#: An Express workflow runs at most five minutes.
EXPRESS_LIMIT_SECONDS = 300

#: StartSyncExecution's status of an execution that ran to one of its ends.
SUCCEEDED, FAILED, TIMED_OUT = "SUCCEEDED", "FAILED", "TIMED_OUT"
#: Step Functions errors of StartSyncExecution that a later try cannot cure (the input or name is bad).
PERMANENT_START_ERRORS = ("InvalidExecutionInput", "InvalidName", "InvalidArn", "StateMachineDoesNotExist",
                          "StateMachineDeleting", "StateMachineTypeNotSupported")

@dataclass(frozen=True)
class IntakeTuning:
    """The intake's retry budget and timeouts."""

    #: Tries of one event before it goes to the events DLQ with its reason.
    max_attempts: int = 5
    #: Wait before try n+1 is ``first_retry_seconds * 2**(n-1)``, at most ``max_retry_seconds``.
    first_retry_seconds: int = 30
    max_retry_seconds: int = 600
    #: Beyond StartSyncExecution's longest wait (the Express limit): the call's own overhead.
    starter_margin_seconds: int = 30
    #: SQS long polling: empty receives are cheaper and arrivals are seen at once.
    receive_wait_seconds: int = 20
    #: Four days (SQS's default): a backlog waits that long for the workflow before SQS drops it.
    retention_seconds: int = 4 * 24 * 3600

    @property
    def starter_timeout_seconds(self) -> int:
        return EXPRESS_LIMIT_SECONDS + self.starter_margin_seconds

    @property
    def visibility_timeout_seconds(self) -> int:
        """AWS's recommendation for an SQS event source: six times the function's timeout."""
        return 6 * self.starter_timeout_seconds

    @property
    def redrive_receives(self) -> int:
        """The queue's own redrive (a starter that crashed without answering): after the starter's budget."""
        return self.max_attempts + 2

    def retry_delay_seconds(self, attempt: int) -> int:
        """How long the message stays hidden after try ``attempt`` (1-based) failed."""
        return min(self.max_retry_seconds, self.first_retry_seconds * 2 ** max(0, attempt - 1))

    def worst_case_seconds(self) -> int:
        """The longest an event can take from arrival to its last try's end (every try runs to the Express limit)."""
        waits = sum(self.retry_delay_seconds(n) for n in range(1, self.max_attempts))
        return self.max_attempts * EXPRESS_LIMIT_SECONDS + waits


@dataclass(frozen=True)
class Outcome:
    """What the starter does with one message after one try."""

    #: Delete the message: the segment has its outcome (record, duplicate or dead letter).
    done: bool
    #: Why it is not done (an error name), for the log and, after the last try, the events DLQ.
    error: str = ""
    cause: str = ""
    #: Seconds the message stays hidden before the next try (None: done).
    retry_in: Optional[int] = None
    #: The budget is spent: the event goes to the events DLQ with ``error``/``cause``.
    gave_up: bool = False


def execution_name(message_id: str, attempt: int) -> str:
    """A unique execution name that names its message and try (at most 80 characters, as Step Functions allows)."""
    return "{}-{}".format(message_id, attempt)[:80]


def outcome_of_execution(status: str, error: Optional[str], cause: Optional[str], attempt: int,
                         tuning: IntakeTuning = IntakeTuning()) -> Outcome:
    """Decide from StartSyncExecution's answer.

    ``SUCCEEDED``: recorded (or a duplicate, or a playlist). ``FAILED`` with the
    workflow's own ``SegmentFailed``: the dead letter is in the workflow DLQ, so the
    segment has its outcome too. Anything else (``TIMED_OUT``; ``FAILED`` on a
    runtime error or a dead letter that could not be sent) left no outcome: try again.
    """
    if status == SUCCEEDED or (status == FAILED and error == workflow.FAILED):
        return Outcome(done=True)
    return _again("Execution." + (error or status), cause or "", attempt, tuning)


def outcome_of_start_error(code: str, message: str, attempt: int, tuning: IntakeTuning = IntakeTuning()) -> Outcome:
    """Decide from an error of the StartSyncExecution call itself (throttling, a bad input ...)."""
    if code in PERMANENT_START_ERRORS:
        return Outcome(done=False, error="StartSyncExecution." + code, cause=message, gave_up=True)
    return _again("StartSyncExecution." + code, message, attempt, tuning)


def _again(error: str, cause: str, attempt: int, tuning: IntakeTuning) -> Outcome:
    if attempt >= tuning.max_attempts:
        return Outcome(done=False, error=error, cause=cause, gave_up=True)
    return Outcome(done=False, error=error, cause=cause, retry_in=tuning.retry_delay_seconds(attempt))
