"""The console's ``--aws`` code path (no endpoint URL: boto3's own resolution and credentials) against moto."""

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from contracts import records
from tests.conftest import load_event

SECRET = "console-test-secret-must-never-reach-a-page"
REGION = "eu-west-1"
STREAM = "<img src=x onerror=alert(1)>"


@pytest.fixture
def deployment(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACONSOLETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="livestream", CreateBucketConfiguration={"LocationConstraint": REGION})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="detections",
            KeySchema=[{"AttributeName": records.PARTITION_KEY, "KeyType": "HASH"},
                       {"AttributeName": records.SORT_KEY, "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a.name, "AttributeType": a.encoding} for a in records.KEY_ATTRIBUTES],
            BillingMode="PAY_PER_REQUEST",
        )
        for seq in (1, 2):
            dynamodb.put_item(TableName="detections", Item=_item(STREAM, seq))
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="workflow-dlq")["QueueUrl"]
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(load_event("dead_letter_workflow_failure.json")))
        # An event EventBridge could not deliver to the state machine, as it writes one to the target's DLQ.
        events_dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
        undeliverable = load_event("s3_object_created.json")
        undeliverable["detail"]["object"]["key"] = f"live/{STREAM}/segment_00009.ts"
        sqs.send_message(QueueUrl=events_dlq, MessageBody=json.dumps(undeliverable), MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in (
                ("ERROR_CODE", "ThrottlingException"), ("ERROR_MESSAGE", "Rate exceeded"),
                ("RULE_ARN", f"arn:aws:events:{REGION}:123456789012:rule/segments"),
                ("TARGET_ARN", f"arn:aws:states:{REGION}:123456789012:stateMachine:workflow"))})
        logs = boto3.client("logs", region_name=REGION)
        group = "/aws/vendedlogs/states/workflow"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="states")
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name="workflow", type="EXPRESS", roleArn="arn:aws:iam::123456789012:role/workflow",
            definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
            loggingConfiguration={"level": "ALL", "includeExecutionData": True, "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": f"arn:aws:logs:{REGION}:123456789012:log-group:{group}:*"}}]},
        )["stateMachineArn"]
        # One Express execution's history, as Step Functions logs it (timestamps moved to now).
        events = load_event("execution_history_caught.json")["events"]
        shift = int(time.time() * 1000) - int(events[0]["event_timestamp"]) - 60_000
        logs.put_log_events(logGroupName=group, logStreamName="states", logEvents=[
            {"timestamp": int(e["event_timestamp"]) + shift,
             "message": json.dumps({**e, "event_timestamp": str(int(e["event_timestamp"]) + shift)})} for e in events])
        yield ["--aws", "--bucket", "livestream", "--table", "detections", "--dlq-url", dlq, "--state-machine-arn", arn,
               "--events-dlq-url", events_dlq]


def _item(stream: str, seq: int) -> dict:
    clips = [{"start_s": 0.0, "end_s": 5.0, "label": "Biking", "probability": 0.7}]
    return {
        records.PARTITION_KEY: {"S": stream}, records.SORT_KEY: {"N": str(seq)},
        "s3_uri": {"S": f"s3://livestream/live/{stream}/segment_{seq:05d}.ts"},
        "start_seconds": {"N": str(seq * 10)}, "duration_seconds": {"N": "10"},
        "label": {"S": "Biking"}, "probability": {"N": "0.75"}, "confident": {"BOOL": True},
        "top_k": {"S": json.dumps([{"label": "Biking", "probability": 0.75}])}, "clips": {"S": json.dumps(clips)},
        "created_at": {"S": "2026-11-25T12:00:00Z"}, "random_weights": {"BOOL": True},
    }


@pytest.fixture
def client(deployment):
    from devstack.__main__ import _info, parser
    from devstack.console.app import create_app
    from devstack.console.data import ConsoleData

    info = _info(parser().parse_args(["console", *deployment]))
    assert info["endpoint_url"] is None  # the AWS code path
    data = ConsoleData(info)
    app = create_app(data)
    return app.test_client(), data


def test_aws_console_reads_streams_timeline_executions_and_dead_letters(client):
    http, _ = client
    (stream,) = http.get("/api/streams").get_json()["streams"]
    assert stream["stream_id"] == STREAM and stream["records"] == 2 and stream["health"] == "stalled"
    timeline = http.get("/api/stream", query_string={"id": STREAM}).get_json()
    assert [s["segment_seq"] for s in timeline["segments"]] == [1, 2]
    assert timeline["segments"][0]["clips"] == [{"start_s": 10.0, "end_s": 15.0, "label": "Biking", "probability": 0.7}]
    (letter,) = http.get("/api/dead-letters").get_json()["dead_letters"]
    assert letter["reason"] == "NOT_A_VIDEO" and letter["object_key"].startswith(f"live/{STREAM}/")
    (undelivered,) = http.get("/api/dead-letters").get_json()["undelivered"]  # the events DLQ, not consumed
    assert (undelivered["reason"], undelivered["error_message"]) == ("ThrottlingException", "Rate exceeded")
    assert undelivered["object_key"] == f"live/{STREAM}/segment_00009.ts" and undelivered["sent_at"].startswith("20")
    (execution,) = http.get("/api/executions").get_json()["executions"]  # from the log group
    assert execution["object_key"] == "live/cam-1/segment_00001.ts" and execution["status"] == "FAILED"
    page = http.get("/execution", query_string={"arn": execution["execution_arn"]}).get_data(as_text=True)
    assert 'data-state="DetectActivity"' in page and "SageMakerRuntime.ModelErrorException" in page


def test_aws_pages_escape_user_strings_and_carry_no_secret(client):
    http, data = client
    bodies = []
    for path in ("/", "/executions", "/dead-letters", "/api/streams", "/api/executions", "/api/dead-letters"):
        reply = http.get(path)
        assert reply.status_code == 200, path
        bodies.append(reply.get_data(as_text=True))
    reply = http.get("/stream", query_string={"id": STREAM})
    assert STREAM not in reply.get_data(as_text=True)  # never raw HTML ...
    assert "&lt;img src=x onerror=alert(1)&gt;" in reply.get_data(as_text=True)  # ... always escaped text
    bodies.append(reply.get_data(as_text=True))
    bodies.append(http.get("/api/stream", query_string={"id": STREAM}).get_data(as_text=True))
    assert not [body for body in bodies if SECRET in body]
    assert "https://*.amazonaws.com" in reply.headers["Content-Security-Policy"]


def test_aws_presigned_urls_point_at_s3_and_expire_within_minutes(client):
    _, data = client
    url = data.presign(f"s3://livestream/evidence/{STREAM}/clip.mp4")
    parts = urlsplit(url)
    assert re.fullmatch(r"livestream\.s3(\.[a-z0-9-]+)?\.amazonaws\.com", parts.netloc)
    query = parse_qs(parts.query)
    assert 0 < int(query["X-Amz-Expires"][0]) <= 300
    assert SECRET not in url
