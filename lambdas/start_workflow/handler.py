"""StartWorkflow: the intake's starter, between the intake queue and the workflow.

Input: a batch of SQS messages from the intake queue (event source mapping, at
most ``intakeMaxConcurrency`` invocations at once), each holding the EventBridge
``Object Created`` event of one upload. For each, it runs the workflow with
``StartSyncExecution`` and waits for its end, so that the queue, not the
endpoint, holds whatever a burst brings. What happens next is decided by
:mod:`contracts.intake`: a message whose execution reached an outcome is
deleted; one that did not is hidden for a growing delay and tried again
(reported in ``batchItemFailures``); after the last try its event goes to the
events dead-letter queue with the reason, as EventBridge writes the events it
cannot deliver.

Configuration: :class:`contracts.environment.StartWorkflowEnvironment`, read once at start.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.config import Config
from botocore.exceptions import ClientError

from contracts import dead_letters, intake
from contracts.environment import StartWorkflowEnvironment

CONFIG = StartWorkflowEnvironment.from_environ()
TUNING = intake.IntakeTuning()
logger = Logger(service="start-workflow")
# The call waits for the whole execution (up to the Express limit); a retry by the SDK would
# start a second execution of the same event, so the intake's own retries are the only ones.
_SYNC_CALL = Config(read_timeout=TUNING.starter_timeout_seconds, connect_timeout=10, retries={"total_max_attempts": 1})
_clients: dict[str, Any] = {}
# Every message is answered on its own: a batch where all failed is reported item by item, not raised.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class TryAgain(Exception):
    """The message's event has no outcome yet; it stays in the queue for a later try."""


def _client(service: str, config: Config | None = None):
    # One client per container; AWS_ENDPOINT_URL (honoured by boto3) points it at a local AWS.
    if service not in _clients:
        _clients[service] = boto3.client(service, config=config)
    return _clients[service]


def run_once(record: SQSRecord) -> intake.Outcome:
    """Run the workflow for one message and decide what becomes of the message."""
    attempt = int(record.attributes.approximate_receive_count)
    name = intake.execution_name(record.message_id, attempt)
    try:
        reply = _client("stepfunctions", _SYNC_CALL).start_sync_execution(
            stateMachineArn=CONFIG.state_machine_arn, name=name, input=record.body
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        return intake.outcome_of_start_error(details.get("Code", "ClientError"), details.get("Message", ""), attempt, TUNING)
    except Exception as error:  # the call timed out or the connection broke: the execution's fate is unknown
        return intake.outcome_of_start_error(type(error).__name__, str(error), attempt, TUNING)
    logger.info("execution ended", extra={"execution_arn": reply.get("executionArn"), "status": reply.get("status"),
                                          "error": reply.get("error"), "attempt": attempt})
    return intake.outcome_of_execution(reply.get("status", ""), reply.get("error"), reply.get("cause"), attempt, TUNING)


def _give_up(record: SQSRecord, outcome: intake.Outcome) -> None:
    """The event, with why it never reached an outcome, into the events DLQ (EventBridge's attributes)."""
    attributes = {
        dead_letters.ERROR_CODE: outcome.error,
        dead_letters.ERROR_MESSAGE: (outcome.cause or outcome.error)[:256],
        dead_letters.RULE_ARN: record.event_source_arn,
        dead_letters.TARGET_ARN: CONFIG.state_machine_arn,
    }
    _client("sqs").send_message(
        QueueUrl=CONFIG.events_dlq_url,
        MessageBody=record.body,
        MessageAttributes={name: {"DataType": "String", "StringValue": value or "-"} for name, value in attributes.items()},
    )


def record_handler(record: SQSRecord) -> None:
    outcome = run_once(record)
    if outcome.done:
        return
    if outcome.gave_up:
        logger.error("giving up on the event", extra={"error": outcome.error, "cause": outcome.cause[:500]})
        _give_up(record, outcome)
        return  # it is in the events DLQ: the message is deleted
    logger.warning("no outcome yet: trying again later",
                   extra={"error": outcome.error, "cause": outcome.cause[:500], "retry_in": outcome.retry_in})
    _client("sqs").change_message_visibility(
        QueueUrl=CONFIG.intake_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=outcome.retry_in
    )
    raise TryAgain(json.dumps({"error": outcome.error, "retry_in": outcome.retry_in}))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
