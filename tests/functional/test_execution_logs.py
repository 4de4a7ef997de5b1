"""Executions read from the state machine's log group in moto's CloudWatch Logs, in AWS's documented
log event format: events put there as AWS writes them, and events the local bridge writes for real runs."""

import json
import time

import boto3
import pytest
from moto import mock_aws

from devstack import executions
from devstack.bridges import execution_logs
from tests.conftest import load_event

REGION = "us-east-1"
GROUP = "/aws/vendedlogs/states/activity-detection-dev-workflow"


@pytest.fixture
def aws():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        execution_logs.install()
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName=GROUP)
        yield logs, boto3.client("stepfunctions", region_name=REGION), boto3.client("iam", region_name=REGION)


def test_reads_executions_and_steps_from_log_events_in_aws_format(aws):
    logs, _, _ = aws
    events = load_event("express_execution_logs.json")
    # CloudWatch Logs refuses events older than 14 days: move the recorded ones to now, keeping their spacing.
    shift = int(time.time() * 1000) - 60_000 - int(events[0]["event_timestamp"])
    for event in events:
        event["event_timestamp"] = str(int(event["event_timestamp"]) + shift)
    stream = "states/activity-detection-dev-workflow/2025-11-25-14-00/00000000"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=GROUP, logStreamName=stream,
        logEvents=[{"timestamp": int(e["event_timestamp"]), "message": json.dumps(e)} for e in events],
    )
    failed, running = executions.list_executions(logs, GROUP)
    assert (failed.status, failed.error, failed.duration_s) == ("FAILED", "SegmentFailed", 2.01)
    assert failed.name == "3f1c" and failed.input.startswith('{"detail"')
    assert (running.status, running.stop, running.duration_s) == ("RUNNING", None, None)
    summary, steps = executions.execution_steps(logs, GROUP, failed.execution_arn, local=True)
    assert summary == failed
    detect, fail = steps
    assert (detect.state, detect.attempts, detect.errors) == ("DetectActivity", 2, ["SageMakerRuntime.ThrottlingException"])
    assert (detect.cause, detect.output, detect.duration_s) == ("Rate exceeded", '{"inference":{}}', 1.85)
    assert (fail.state, fail.outcome, fail.error) == ("SegmentFailed", "ExecutionFailed", "SegmentFailed")


def wait_until_finished(logs, count, timeout_s=30):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = executions.list_executions(logs, GROUP)
        if len(found) >= count and all(e.status != "RUNNING" for e in found):
            return found
        time.sleep(0.2)
    raise TimeoutError(found)


def test_the_bridge_logs_each_execution_of_moto_s_interpreter(aws):
    logs, sfn, iam = aws
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}], "Default": "Broken"},
            "Done": {"Type": "Pass", "Result": {"done": 1}, "End": True},
            "Broken": {"Type": "Fail", "Error": "SegmentFailed", "Cause": "bad input"},
        },
    }
    machine = sfn.create_state_machine(
        name="activity-detection-dev-workflow", definition=json.dumps(definition), roleArn=role, type="EXPRESS",
        loggingConfiguration={"level": "ALL", "includeExecutionData": True,
                              "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"arn:aws:logs:{REGION}:123456789012:log-group:{GROUP}:*"}}]},
    )["stateMachineArn"]
    assert executions.log_group_of(sfn, machine) == GROUP
    good = sfn.start_execution(stateMachineArn=machine, name="good", input='{"ok": true}')["executionArn"]
    bad = sfn.start_execution(stateMachineArn=machine, name="bad", input='{"ok": false}')["executionArn"]
    found = {e.execution_arn: e for e in wait_until_finished(logs, 2)}
    assert (found[good].status, found[bad].status) == ("SUCCEEDED", "FAILED")
    assert (found[bad].error, found[bad].cause) == ("SegmentFailed", "bad input")
    assert json.loads(found[good].output) == {"done": 1} and json.loads(found[good].input) == {"ok": True}
    _, steps = executions.execution_steps(logs, GROUP, good, local=True)
    assert [s.state for s in steps] == ["Decide", "Done"]
    assert json.loads(steps[0].input) == {"ok": True} and json.loads(steps[1].output) == {"done": 1}
    raw = logs.filter_log_events(logGroupName=GROUP)["events"]
    first = json.loads(raw[0]["message"])
    assert set(first) == {"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"}
    assert all(e["logStreamName"].startswith("states/activity-detection-dev-workflow/") for e in raw)
