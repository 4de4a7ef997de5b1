"""The intake's starter against moto's SQS, with StartSyncExecution's answers stubbed as AWS gives them.

Messages are real SQS messages (sent, then received, so their receipt handles and
receive counts are SQS's); the event Lambda would send is built from them on the
fixture tests/events/sqs_intake_message.json.
"""

import copy
import datetime
import importlib
import json
import sys

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from contracts import dead_letters, workflow
from contracts.environment import StartWorkflowEnvironment
from contracts.intake import IntakeTuning
from tests.conftest import load_event

HANDLER = "lambdas.start_workflow.handler"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:activity-detection-dev"
TUNING = IntakeTuning()


class Context:
    function_name = "start-workflow"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:start-workflow"
    aws_request_id = "req"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        sqs = boto3.client("sqs")
        intake_url = sqs.create_queue(QueueName="intake")["QueueUrl"]
        dlq_url = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
        environment = StartWorkflowEnvironment(state_machine_arn=STATE_MACHINE, intake_queue_url=intake_url,
                                               events_dlq_url=dlq_url)
        for name, value in environment.to_environ().items():
            monkeypatch.setenv(name, value)
        sys.modules.pop(HANDLER, None)
        handler = importlib.import_module(HANDLER)
        sfn = boto3.client("stepfunctions")
        stubber = Stubber(sfn)
        handler._clients["stepfunctions"] = sfn
        with stubber:
            yield handler, stubber, sqs, intake_url, dlq_url
        sys.modules.pop(HANDLER, None)


def lambda_event(sqs, queue_url: str, receives: int = 1) -> dict:
    """The event for one real message of ``queue_url``, received ``receives`` times (its receive count)."""
    body = json.dumps(load_event("s3_object_created.json"))
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    for _ in range(receives):
        (message,) = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    event = copy.deepcopy(load_event("sqs_intake_message.json"))
    record = event["Records"][0]
    record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"])
    record["attributes"]["ApproximateReceiveCount"] = message["Attributes"]["ApproximateReceiveCount"]
    return event


def sync_reply(status: str, **extra) -> dict:
    now = datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc)
    return {"executionArn": STATE_MACHINE.replace(":stateMachine:", ":express:") + ":run:1", "startDate": now,
            "stopDate": now, "status": status, **extra}


def expect_start(stubber, event, reply=None, error_code=None):
    record = event["Records"][0]
    params = {"stateMachineArn": STATE_MACHINE, "input": record["body"],
              "name": f"{record['messageId']}-{record['attributes']['ApproximateReceiveCount']}"}
    if error_code:
        stubber.add_client_error("start_sync_execution", service_error_code=error_code, service_message="no",
                                 expected_params=params)
    else:
        stubber.add_response("start_sync_execution", reply, params)


def visible(sqs, queue_url) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def given_up(sqs, dlq_url) -> list[dead_letters.UndeliveredEvent]:
    messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   AttributeNames=["All"]).get("Messages", [])
    return [dead_letters.UndeliveredEvent.from_message(m) for m in messages]


@pytest.mark.parametrize("reply", [sync_reply("SUCCEEDED", output="{}"),
                                   sync_reply("FAILED", error=workflow.FAILED, cause="dead letter sent")])
def test_an_execution_that_reached_an_outcome_deletes_its_message(aws, reply):
    handler, stubber, sqs, intake_url, dlq_url = aws
    event = lambda_event(sqs, intake_url)
    expect_start(stubber, event, reply)
    assert handler.handler(event, Context()) == {"batchItemFailures": []}
    stubber.assert_no_pending_responses()
    assert given_up(sqs, dlq_url) == []


@pytest.mark.parametrize("reply, error_code, error", [
    (sync_reply("TIMED_OUT"), None, "Execution.TIMED_OUT"),
    (sync_reply("FAILED", error="States.Runtime", cause="boom"), None, "Execution.States.Runtime"),
    (None, "ThrottlingException", "StartSyncExecution.ThrottlingException"),
])
def test_no_outcome_yet_hides_the_message_for_the_backoff_and_reports_it_failed(aws, reply, error_code, error):
    handler, stubber, sqs, intake_url, dlq_url = aws
    event = lambda_event(sqs, intake_url)
    expect_start(stubber, event, reply, error_code)
    answer = handler.handler(event, Context())
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    # Hidden for the first backoff: not visible now (it was received with visibility 0).
    assert visible(sqs, intake_url) == 0
    assert given_up(sqs, dlq_url) == []


def test_the_last_try_sends_the_event_to_the_events_dlq_with_its_reason(aws):
    handler, stubber, sqs, intake_url, dlq_url = aws
    event = lambda_event(sqs, intake_url, receives=TUNING.max_attempts)
    expect_start(stubber, event, sync_reply("TIMED_OUT"))
    assert handler.handler(event, Context()) == {"batchItemFailures": []}  # deleted: it is in the DLQ
    (dead,) = given_up(sqs, dlq_url)
    assert dead.error_code == "Execution.TIMED_OUT"
    assert dead.rule_arn == event["Records"][0]["eventSourceARN"] and dead.target_arn == STATE_MACHINE
    assert dead.event == json.loads(event["Records"][0]["body"])


def test_an_input_the_workflow_refuses_is_given_up_at_once(aws):
    handler, stubber, sqs, intake_url, dlq_url = aws
    event = lambda_event(sqs, intake_url)
    expect_start(stubber, event, error_code="InvalidExecutionInput")
    assert handler.handler(event, Context()) == {"batchItemFailures": []}
    (dead,) = given_up(sqs, dlq_url)
    assert dead.error_code == "StartSyncExecution.InvalidExecutionInput"
