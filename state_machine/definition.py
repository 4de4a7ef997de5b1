"""The one builder of the workflow's Amazon States Language definition.

``pulumi up`` deploys its output to AWS, and the local stack deploys the very
same output into moto, whose ASL interpreter runs it.

Flow::

    ValidateSegment -> BuildRequest -> DetectActivity -> RecordDetection -> [alerts] -> Recorded
          |                                 |                 |
          +--------- Catch ---------------> <State>Failed -> SendToDeadLetterQueue -> SegmentFailed (Fail)

Error names. Step Functions names an AWS SDK integration's errors
``<ServiceName>.<ErrorName>`` in PascalCase and always with the ``Exception``
suffix (AWS's "AWS SDK service integrations" page,
https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html:
``AcmPca.ResourceNotFoundException``, ``S3.BucketAlreadyExistsException`` for S3's
``BucketAlreadyExists``). The error names below are the error shapes of each
operation in botocore's API models with that rule applied (a test checks every
name against the models): SageMaker Runtime's ``ServiceUnavailable`` is
``SageMakerRuntime.ServiceUnavailableException``; DynamoDB's ``RequestLimitExceeded``
is ``DynamoDB.RequestLimitExceededException`` and ``InternalServerError`` is
``DynamoDB.InternalServerErrorException``.

Throttling of the endpoint: ``ThrottlingException`` is a common AWS error that
the SageMaker Runtime API model does not list, and the SDK behind Step
Functions reports an unmodelled error as the service's base exception,
``SageMakerRuntime.SageMakerRuntimeException``. That base name also covers every
other unmodelled error (an access denial, say), so it is not in the throttling
retrier: it has its own, shorter one (:attr:`WorkflowTuning.endpoint_unmodelled`),
so a permanent error is retried twice, not five times, before the DLQ, while a
throttle reported under that name still gets retries. The local stack can
produce either naming (see ``devstack.bridges``) and the tests drive the
throttle path with each.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from contracts import dead_letters, events, intake, records, workflow
from contracts.endpoint import EndpointRequest
from contracts.invoke_endpoint import BUSY_CAUSE_PATTERN
from contracts.segments import PLAYLIST_SUFFIXES, Segment

ENDPOINT_THROTTLING_ERRORS = ("SageMakerRuntime.ThrottlingException",)
#: The service's base exception: every error the API model does not list (see the module docstring).
ENDPOINT_UNMODELLED_ERRORS = ("SageMakerRuntime.SageMakerRuntimeException",)
ENDPOINT_TRANSIENT_ERRORS = (
    "SageMakerRuntime.ServiceUnavailableException",
    "SageMakerRuntime.InternalFailureException",
    "SageMakerRuntime.InternalDependencyException",
    "SageMakerRuntime.ModelNotReadyException",
)
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
DYNAMODB_TRANSIENT_ERRORS = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceededException",
    "DynamoDB.InternalServerErrorException",
)
DUPLICATE_ERROR = "DynamoDB.ConditionalCheckFailedException"
#: What every non-2xx answer of the container becomes (the busy refusal included: see contracts.invoke_endpoint).
ENDPOINT_MODEL_ERROR = "SageMakerRuntime.ModelErrorException"

#: An Express workflow is stopped after five minutes (the intake's starter waits that long at most).
EXPRESS_LIMIT_SECONDS = intake.EXPRESS_LIMIT_SECONDS

# The state names are defined once in contracts.workflow; these names are for readability here.
STATE_IS_PLAYLIST = workflow.IS_PLAYLIST
STATE_PLAYLIST = workflow.PLAYLIST
STATE_VALIDATE = workflow.VALIDATE
STATE_BUILD_REQUEST = workflow.BUILD_REQUEST
STATE_DETECT = workflow.DETECT
STATE_INIT_BUSY = workflow.INIT_BUSY
STATE_IS_BUSY = workflow.IS_BUSY
STATE_COUNT_BUSY = workflow.COUNT_BUSY
STATE_WAIT_BUSY = workflow.WAIT_BUSY
STATE_RECORD = workflow.RECORD
STATE_EPISODES = workflow.EPISODES
STATE_AFTER_EPISODES = workflow.AFTER_EPISODES
STATE_WATCHED = workflow.WATCHED
STATE_ALERT = workflow.ALERT
STATE_RECORDED = workflow.RECORDED
STATE_DUPLICATE = workflow.DUPLICATE
STATE_SEND_DLQ = workflow.SEND_DEAD_LETTER
STATE_FAILED = workflow.FAILED


@dataclass(frozen=True)
class Retry:
    """One ASL retrier's timing."""

    interval_seconds: int
    max_attempts: int
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None

    def to_asl(self, errors: tuple[str, ...] | list[str]) -> dict[str, Any]:
        retrier: dict[str, Any] = {
            "ErrorEquals": list(errors),
            "IntervalSeconds": self.interval_seconds,
            "MaxAttempts": self.max_attempts,
            "BackoffRate": self.backoff_rate,
        }
        if self.max_delay_seconds is not None:
            retrier["MaxDelaySeconds"] = self.max_delay_seconds
            retrier["JitterStrategy"] = "FULL"
        return retrier

    def worst_case_wait_seconds(self) -> float:
        """The longest total sleep this retrier can add (jitter only shortens it)."""
        total, delay = 0.0, float(self.interval_seconds)
        for _ in range(self.max_attempts):
            total += min(delay, self.max_delay_seconds or delay)
            delay *= self.backoff_rate
        return total


@dataclass(frozen=True)
class WorkflowTuning:
    """Timeouts, retries and request options; the stack config sets them."""

    endpoint_timeout_seconds: int = 40
    endpoint_throttling: Retry = Retry(interval_seconds=1, max_attempts=3, max_delay_seconds=16)
    endpoint_unmodelled: Retry = Retry(interval_seconds=1, max_attempts=2, max_delay_seconds=16)
    endpoint_transient: Retry = Retry(interval_seconds=2, max_attempts=2, max_delay_seconds=16)
    #: No retry after a timeout: the first request may still be running (a retry would be a
    #: second copy of the work); the endpoint refuses at once what it cannot serve in time (busy).
    endpoint_timeout_retry: Retry = Retry(interval_seconds=1, max_attempts=0)
    #: Waits before each new attempt while the endpoint answers busy: three quarters of each are
    #: certain, the last quarter random (jitter), so that retries spread out but the budget is used.
    endpoint_busy_waits: tuple[int, ...] = (2, 4, 8, 16, 24, 24, 24)
    lambda_timeout_seconds: int = 8
    lambda_retry: Retry = Retry(interval_seconds=1, max_attempts=2)
    dynamodb_retry: Retry = Retry(interval_seconds=1, max_attempts=3, max_delay_seconds=8)
    dead_letter_retry: Retry = Retry(interval_seconds=1, max_attempts=3)
    #: UpdateEpisodes: no retry on its own timeout (the sweep folds what a failed run left).
    episodes_timeout_seconds: int = 10
    episodes_retry: Retry = Retry(interval_seconds=1, max_attempts=0)
    alert_retry: Retry = Retry(interval_seconds=1, max_attempts=3)
    top_k: int = 5
    clips: int = 1
    min_confidence: float = 0.0

    #: Time allowed for a call that fails with an error response (not a timeout).
    ERROR_RESPONSE_SECONDS = 5
    #: Time allowed for the endpoint's busy refusal (the container answers at once, before any work).
    BUSY_RESPONSE_SECONDS = 2

    def worst_case_seconds(self) -> float:
        """Upper bound of one execution's duration, to compare with Express's 5 minutes.

        Only attempts that time out take the full task timeout (the timeout retrier
        bounds how many do); an attempt that fails with an error response is allowed
        :data:`ERROR_RESPONSE_SECONDS`; every retrier sleeps its longest.
        """
        quick = self.ERROR_RESPONSE_SECONDS
        busy = len(self.endpoint_busy_waits) * self.BUSY_RESPONSE_SECONDS + sum(self.endpoint_busy_waits)
        endpoint = busy + (
            (1 + self.endpoint_timeout_retry.max_attempts) * self.endpoint_timeout_seconds
            + (
                self.endpoint_throttling.max_attempts
                + self.endpoint_unmodelled.max_attempts
                + self.endpoint_transient.max_attempts
            ) * quick
            + sum(
                r.worst_case_wait_seconds()
                for r in (
                    self.endpoint_throttling, self.endpoint_unmodelled, self.endpoint_transient, self.endpoint_timeout_retry
                )
            )
        )
        lambda_ = (1 + self.lambda_retry.max_attempts) * self.lambda_timeout_seconds + self.lambda_retry.worst_case_wait_seconds()
        dynamodb = (1 + self.dynamodb_retry.max_attempts) * quick + self.dynamodb_retry.worst_case_wait_seconds()
        sqs = (1 + self.dead_letter_retry.max_attempts) * quick + self.dead_letter_retry.worst_case_wait_seconds()
        # One timed-out attempt, the retried ones fail fast (Lambda service errors).
        episodes = (
            self.episodes_timeout_seconds + self.episodes_retry.max_attempts * quick
            + self.episodes_retry.worst_case_wait_seconds()
        )
        alert = (1 + self.alert_retry.max_attempts) * quick + self.alert_retry.worst_case_wait_seconds()
        # The dead-letter step follows a failure; UpdateEpisodes and PublishAlert follow a success:
        # an execution takes one of the two tails, never both.
        return lambda_ + endpoint + dynamodb + max(sqs, episodes + alert)

    def for_serverless(self) -> "WorkflowTuning":
        """A serverless endpoint's cold start: ``ModelNotReady`` and 5xx retried longer (5, 10, 20 s).

        Within Express's five minutes with the other defaults (a test checks ``worst_case_seconds``).
        Overload on a serverless endpoint is SageMaker's ``ThrottlingException`` (beyond its
        MaxConcurrency), not a container's busy answer: throttling gets the longer backoff,
        the busy waits a shorter one.
        """
        return dataclasses.replace(
            self,
            endpoint_transient=Retry(interval_seconds=5, max_attempts=3, max_delay_seconds=20),
            endpoint_throttling=Retry(interval_seconds=1, max_attempts=5, max_delay_seconds=16),
            endpoint_busy_waits=(2, 4, 8, 16),
        )

    def with_fast_retries(self) -> "WorkflowTuning":
        """The same retriers with 1 s intervals and short caps, for the local stack's tests."""
        fast = lambda r: dataclasses.replace(r, interval_seconds=1, backoff_rate=1.0, max_delay_seconds=1 if r.max_delay_seconds else None)  # noqa: E731
        return dataclasses.replace(
            self,
            endpoint_throttling=fast(self.endpoint_throttling),
            endpoint_unmodelled=fast(self.endpoint_unmodelled),
            endpoint_transient=fast(self.endpoint_transient),
            endpoint_timeout_retry=fast(self.endpoint_timeout_retry),
            # Not the busy waits: they wait for capacity, not for a fault to pass.
            lambda_retry=fast(self.lambda_retry),
            dynamodb_retry=fast(self.dynamodb_retry),
            dead_letter_retry=fast(self.dead_letter_retry),
            episodes_retry=fast(self.episodes_retry),
            alert_retry=fast(self.alert_retry),
        )


@dataclass(frozen=True)
class WorkflowTargets:
    """The resolved names and ARNs the definition calls."""

    validate_function_arn: str
    endpoint_name: str
    table_name: str
    dead_letter_queue_url: str
    #: Optional alerts (the watch list): bus to notify and the labels watched.
    alert_bus_name: str | None = None
    watch_activities: tuple[str, ...] = field(default_factory=tuple)
    alert_threshold: float = 0.5
    #: The AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``): service integration ARNs carry it.
    partition: str = "aws"
    #: The per-segment ActivityDetected event (opt-in; episodes send ActivityStarted/Ended instead).
    segment_alerts: bool = False
    #: The episodes Lambda (UpdateEpisodes after each record); None: no episodes step.
    episodes_function_arn: str | None = None


def integration(partition: str, path: str) -> str:
    """A service integration's ``Resource``: ``arn:<partition>:states:::<path>``."""
    return f"arn:{partition}:states:::{path}"


def _catch_to_dead_letter(state: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": workflow.FAILURE_PATH, "Next": workflow.failed_state(state)}]


def _dead_letter_pass(state: str) -> dict[str, Any]:
    return {
        "Type": "Pass",
        "Comment": f"Assemble the dead-letter message for a failure in {state}.",
        "Parameters": dead_letters.message_parameters(state),
        "ResultPath": workflow.DEAD_LETTER_PATH,
        "Next": STATE_SEND_DLQ,
    }


def _segment_selector() -> dict[str, str]:
    # The Lambda's output keeps exactly the Segment fields; anything else it returns is dropped.
    return {f"{f.name}.$": f"$.Payload.{f.name}" for f in dataclasses.fields(Segment)}


def build_definition(targets: WorkflowTargets, tuning: WorkflowTuning = WorkflowTuning()) -> dict[str, Any]:
    """The workflow's definition, as a dict (``json.dumps`` it for the API)."""
    states: dict[str, Any] = {}
    # The rule sends every object under the prefix (EventBridge cannot say "under the prefix
    # AND not a playlist"), so that each ends as a record or a dead letter; playlists end here.
    object_key = "$.detail.object.key"
    states[STATE_IS_PLAYLIST] = {
        "Type": "Choice",
        "Comment": "A playlist (.m3u8) is not a segment: end at once, no record, no dead letter.",
        "Choices": [
            {
                "And": [
                    {"Variable": object_key, "IsPresent": True},
                    {"Variable": object_key, "IsString": True},
                    {"Or": [{"Variable": object_key, "StringMatches": f"*{suffix}"} for suffix in PLAYLIST_SUFFIXES]},
                ],
                "Next": STATE_PLAYLIST,
            }
        ],
        "Default": STATE_VALIDATE,
    }
    states[STATE_PLAYLIST] = {"Type": "Succeed", "Comment": "The playlist names segments; each has its own execution."}
    states[STATE_VALIDATE] = {
        "Type": "Task",
        "Comment": "Check the uploaded object is an MPEG-TS segment under the stream prefix.",
        "Resource": integration(targets.partition, "lambda:invoke"),
        "Parameters": {"FunctionName": targets.validate_function_arn, "Payload.$": "$"},
        "TimeoutSeconds": tuning.lambda_timeout_seconds,
        "ResultSelector": _segment_selector(),
        "ResultPath": workflow.SEGMENT_PATH,
        "Retry": [tuning.lambda_retry.to_asl(LAMBDA_TRANSIENT_ERRORS)],
        "Catch": _catch_to_dead_letter(STATE_VALIDATE),
        "Next": STATE_BUILD_REQUEST,
    }
    states[STATE_BUILD_REQUEST] = {
        "Type": "Pass",
        "Comment": "The endpoint's JSON request.",
        "Parameters": EndpointRequest.asl_parameters(
            workflow.segment("s3_uri"), workflow.segment("version_id"), workflow.segment("etag"),
            top_k=tuning.top_k, clips=tuning.clips, min_confidence=tuning.min_confidence,
        ),
        "ResultPath": workflow.REQUEST_PATH,
        "Next": STATE_INIT_BUSY,
    }
    states[STATE_INIT_BUSY] = {
        "Type": "Pass",
        "Comment": "No busy answer from the endpoint yet.",
        "Result": {"attempt": 0},
        "ResultPath": workflow.BUSY_PATH,
        "Next": STATE_DETECT,
    }
    states[STATE_DETECT] = {
        "Type": "Task",
        "Comment": "Ask the SageMaker endpoint which activity the segment shows.",
        "Resource": integration(targets.partition, "aws-sdk:sagemakerruntime:invokeEndpoint"),
        "Parameters": {
            "EndpointName": targets.endpoint_name,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body.$": f"States.JsonToString({workflow.REQUEST_PATH})",
        },
        "TimeoutSeconds": tuning.endpoint_timeout_seconds,
        "ResultSelector": {f"{workflow.RESULT_KEY}.$": "States.StringToJson($.Body)"},
        "ResultPath": workflow.INFERENCE_PATH,
        "Retry": [
            tuning.endpoint_throttling.to_asl(ENDPOINT_THROTTLING_ERRORS),
            tuning.endpoint_unmodelled.to_asl(ENDPOINT_UNMODELLED_ERRORS),
            tuning.endpoint_transient.to_asl(ENDPOINT_TRANSIENT_ERRORS),
            *([tuning.endpoint_timeout_retry.to_asl(["States.Timeout"])] if tuning.endpoint_timeout_retry.max_attempts else []),
        ],
        "Catch": [
            {"ErrorEquals": [ENDPOINT_MODEL_ERROR], "ResultPath": workflow.FAILURE_PATH, "Next": STATE_IS_BUSY},
            *_catch_to_dead_letter(STATE_DETECT),
        ],
        "Next": STATE_RECORD,
    }
    states.update(_busy_states(tuning))
    alerts = bool(targets.segment_alerts and targets.watch_activities and targets.alert_bus_name)
    after_record = STATE_WATCHED if alerts else STATE_RECORDED
    first_after_record = STATE_EPISODES if targets.episodes_function_arn else after_record
    states[STATE_RECORD] = {
        "Type": "Task",
        "Comment": "Write the detection; a repeated delivery of the same object version writes nothing.",
        "Resource": integration(targets.partition, "dynamodb:putItem"),
        "Parameters": records.put_item_parameters(targets.table_name),
        "ResultPath": None,
        "Retry": [tuning.dynamodb_retry.to_asl(DYNAMODB_TRANSIENT_ERRORS)],
        "Catch": [
            {
                "ErrorEquals": [DUPLICATE_ERROR],
                "ResultPath": workflow.DUPLICATE_PATH,
                "Next": STATE_EPISODES if targets.episodes_function_arn else STATE_DUPLICATE,
            },
            *_catch_to_dead_letter(STATE_RECORD),
        ],
        "Next": first_after_record,
    }
    if targets.episodes_function_arn:
        states.update(_episode_states(targets, tuning, after_record))
    if alerts:
        states.update(_alert_states(targets, tuning))
    states[STATE_RECORDED] = {"Type": "Succeed", "Comment": "One item written for this segment."}
    states[STATE_DUPLICATE] = {"Type": "Succeed", "Comment": "This object version was already recorded."}
    for failing in workflow.FAILING_STATES:
        states[workflow.failed_state(failing)] = _dead_letter_pass(failing)
    states[STATE_SEND_DLQ] = {
        "Type": "Task",
        "Comment": "Keep the failed segment's event and its reason in the dead-letter queue.",
        "Resource": integration(targets.partition, "sqs:sendMessage"),
        "Parameters": {
            "QueueUrl": targets.dead_letter_queue_url,
            "MessageBody.$": f"States.JsonToString({workflow.DEAD_LETTER_PATH})",
        },
        "ResultPath": None,
        "Retry": [tuning.dead_letter_retry.to_asl(["States.ALL"])],
        "Next": STATE_FAILED,
    }
    states[STATE_FAILED] = {
        "Type": "Fail",
        "Error": workflow.FAILED,
        "Cause": "The segment was not recorded; its event and reason are in the dead-letter queue.",
    }
    return {
        "Comment": "Activity detection on one uploaded HLS segment.",
        "StartAt": STATE_IS_PLAYLIST,
        "TimeoutSeconds": EXPRESS_LIMIT_SECONDS,
        "States": states,
    }


def _busy_states(tuning: WorkflowTuning) -> dict[str, Any]:
    """Back off while the endpoint refuses for lack of capacity (its busy ModelError), then ask again.

    A Retry cannot do this: it matches error names only, and the busy refusal shares
    ``ModelError`` with permanent refusals; the cause tells them apart
    (:data:`contracts.invoke_endpoint.BUSY_CAUSE_PATTERN`).
    """
    waits = tuning.endpoint_busy_waits
    certain = ", ".join(str(max(1, w * 3 // 4)) for w in waits)
    fulls = ", ".join(str(w + 1) for w in waits)  # MathRandom's end is exclusive
    return {
        STATE_IS_BUSY: {
            "Type": "Choice",
            "Comment": "Busy (the endpoint's queue is full) and retries left: wait and ask again; any other ModelError: DLQ.",
            "Choices": [
                {
                    "And": [
                        {"Variable": f"{workflow.FAILURE_PATH}.Cause", "StringMatches": BUSY_CAUSE_PATTERN},
                        {"Variable": f"{workflow.BUSY_PATH}.attempt", "NumericLessThan": len(waits)},
                    ],
                    "Next": STATE_COUNT_BUSY,
                }
            ],
            "Default": workflow.failed_state(STATE_DETECT),
        },
        STATE_COUNT_BUSY: {
            "Type": "Pass",
            "Comment": "Count the busy answer and draw the wait: the attempt's wait, its last quarter at random.",
            "Parameters": {
                "attempt.$": f"States.MathAdd({workflow.BUSY_PATH}.attempt, 1)",
                "wait_seconds.$": (
                    f"States.MathRandom(States.ArrayGetItem(States.Array({certain}), {workflow.BUSY_PATH}.attempt), "
                    f"States.ArrayGetItem(States.Array({fulls}), {workflow.BUSY_PATH}.attempt))"
                ),
            },
            "ResultPath": workflow.BUSY_PATH,
            "Next": STATE_WAIT_BUSY,
        },
        STATE_WAIT_BUSY: {
            "Type": "Wait",
            "Comment": "Let the endpoint work through its queue.",
            "SecondsPath": f"{workflow.BUSY_PATH}.wait_seconds",
            "Next": STATE_DETECT,
        },
    }


def _episode_states(targets: WorkflowTargets, tuning: WorkflowTuning, after_record: str) -> dict[str, Any]:
    return {
        STATE_EPISODES: {
            "Type": "Task",
            "Comment": "Fold the stream's known timeline into episodes; send ActivityStarted/ActivityEnded once each.",
            "Resource": integration(targets.partition, "lambda:invoke"),
            "Parameters": {
                "FunctionName": targets.episodes_function_arn,
                "Payload": {f"{name}.$": workflow.segment(name) for name in workflow.EPISODES_REQUEST},
            },
            "TimeoutSeconds": tuning.episodes_timeout_seconds,
            "ResultSelector": {f"{name}.$": f"$.Payload.{name}" for name in workflow.EPISODES_RESULT},
            "ResultPath": workflow.EPISODES_PATH,
            "Retry": [tuning.episodes_retry.to_asl(LAMBDA_TRANSIENT_ERRORS)],
            # The record is written and the scheduled sweep folds whatever this run did not:
            # a failure here must not dead-letter the segment.
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": workflow.EPISODES_ERROR_PATH, "Next": STATE_AFTER_EPISODES}],
            "Next": STATE_AFTER_EPISODES,
        },
        STATE_AFTER_EPISODES: {
            "Type": "Choice",
            "Comment": "A repeated delivery ends as AlreadyRecorded, after the episodes were brought up to date.",
            "Choices": [{"Variable": workflow.DUPLICATE_PATH, "IsPresent": True, "Next": STATE_DUPLICATE}],
            "Default": after_record,
        },
    }


def _alert_states(targets: WorkflowTargets, tuning: WorkflowTuning) -> dict[str, Any]:
    watched = [
        {
            "And": [
                {"Variable": workflow.result("label"), "StringEquals": label},
                {"Variable": workflow.result("probability"), "NumericGreaterThanEquals": targets.alert_threshold},
            ]
        }
        for label in targets.watch_activities
    ]
    return {
        STATE_WATCHED: {
            "Type": "Choice",
            "Comment": "Alert only on watched activities above the alert threshold.",
            "Choices": [{"Or": watched, "Next": STATE_ALERT}] if len(watched) > 1 else [{**watched[0], "Next": STATE_ALERT}],
            "Default": STATE_RECORDED,
        },
        STATE_ALERT: {
            "Type": "Task",
            "Comment": "Tell subscribers a watched activity was seen (the record is already written).",
            "Resource": integration(targets.partition, "events:putEvents"),
            "Parameters": {"Entries": [events.ACTIVITY_DETECTED.asl_entry(targets.alert_bus_name)]},
            "ResultPath": None,
            "Retry": [tuning.alert_retry.to_asl(["States.ALL"])],
            # The record is written: a lost alert must not send the segment to the DLQ.
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": workflow.ALERT_ERROR_PATH, "Next": STATE_RECORDED}],
            "Next": STATE_RECORDED,
        },
    }

