"""The episodes Lambda against moto: fold, transaction, outbox, events, late records, the sweep."""

import importlib
import json
import sys
import time

import boto3
import pytest
from moto import mock_aws

from contracts import episodes as ep
from contracts import records
from contracts.environment import EpisodesEnvironment, MissingEnvironment

STREAM = "cam-1"
#: What the Pulumi program sets (infra.episodes), with the Pulumi.yaml rule; no evidence bucket: no evidence here.
ENVIRONMENT = EpisodesEnvironment(
    episodes_table="episodes", records_table="records", event_bus_name="bus", notify_labels=("ski",),
    episode_threshold=0.5, episode_open_segments=1, episode_close_segments=2, episode_lateness_seconds=300,
    stall_seconds=30, segment_seconds=10, evidence_bucket="", evidence_prefix="evidence",
    evidence_preroll_seconds=5, evidence_postroll_seconds=5, evidence_max_clip_seconds=60, ffmpeg_path="",
)
HANDLER = "lambdas.episodes.handler"


def fresh_handler():
    """Import the handler as a new instance would (it reads its environment at start)."""
    sys.modules.pop(HANDLER, None)
    return importlib.import_module(HANDLER)


def test_a_missing_variable_stops_the_function_at_start(monkeypatch):
    for name, value in ENVIRONMENT.to_environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STALL_SECONDS")
    try:
        with pytest.raises(MissingEnvironment, match="STALL_SECONDS"):
            fresh_handler()
    finally:
        sys.modules.pop(HANDLER, None)


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "episodes", 1024, "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:episodes"

    def get_remaining_time_in_millis(self):
        return 60_000


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="records", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": records.PARTITION_KEY, "KeyType": "HASH"}, {"AttributeName": records.SORT_KEY, "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": records.PARTITION_KEY, "AttributeType": "S"}, {"AttributeName": records.SORT_KEY, "AttributeType": "N"}],
        )
        dynamodb.create_table(
            TableName="episodes", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": ep.PARTITION_KEY, "KeyType": "HASH"}, {"AttributeName": ep.SORT_KEY, "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": ep.PARTITION_KEY, "AttributeType": "S"}, {"AttributeName": ep.SORT_KEY, "AttributeType": "S"}],
        )
        sqs, events = boto3.client("sqs"), boto3.client("events")
        events.create_event_bus(Name="bus")
        url = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName="bus", EventPattern=json.dumps({"source": [ep.EVENT_SOURCE]}))
        events.put_targets(Rule="all", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
        for name, value in ENVIRONMENT.to_environ().items():
            monkeypatch.setenv(name, value)
        handler = fresh_handler()
        yield dynamodb, sqs, url, handler
        sys.modules.pop(HANDLER, None)


def put_record(dynamodb, seq, label, created=None):
    item = {
        records.PARTITION_KEY: {"S": STREAM}, records.SORT_KEY: {"N": str(seq)},
        "s3_uri": {"S": f"s3://b/live/{STREAM}/s{seq}.ts"}, "start_seconds": {"N": str(seq * 10)},
        "duration_seconds": {"N": "10"}, "label": {"S": label}, "probability": {"N": "0.9"},
        "clips": {"S": "[]"}, "frames": {"S": "{}"},
        "created_at": {"S": ep.iso(created or time.time())},
    }
    dynamodb.put_item(TableName="records", Item=item)


def sent(sqs, url):
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def stored(dynamodb):
    items = dynamodb.query(TableName="episodes", KeyConditionExpression="stream_id = :s",
                           ExpressionAttributeValues={":s": {"S": STREAM}})["Items"]
    return [ep.decode_episode(i) for i in items if ep.is_episode_item(i)], [i for i in items if i[ep.SORT_KEY]["S"].startswith("#outbox")]


def test_fold_commit_and_send_once(aws):
    dynamodb, sqs, url, handler = aws
    for seq, label in enumerate(["walk", "ski", "ski", "walk", "walk"]):
        put_record(dynamodb, seq, label)
        handler.handler({"stream_id": STREAM, "sequence": seq}, Context())
        handler.handler({"stream_id": STREAM, "sequence": seq}, Context())  # a duplicate delivery changes nothing
    episodes, outbox = stored(dynamodb)
    assert [(e.label, e.start_seq, e.last_seq, e.status) for e in episodes] == [
        ("walk", 0, 0, "closed"), ("ski", 1, 2, "closed"), ("walk", 3, 4, "open")]
    assert outbox == []  # everything sent
    events = sent(sqs, url)
    assert sorted((e["detail-type"], e["detail"]["label"]) for e in events) == [("ActivityEnded", "ski"), ("ActivityStarted", "ski")]
    ended = next(e for e in events if e["detail-type"] == "ActivityEnded")["detail"]
    assert ended["start_seconds"] == 10.0 and ended["end_seconds"] == 30.0 and ended["status"] == "closed"


def test_late_record_is_marked_and_changes_nothing(aws):
    dynamodb, sqs, url, handler = aws
    old = time.time() - 1000
    for seq, label in [(0, "ski"), (2, "walk"), (3, "walk")]:
        put_record(dynamodb, seq, label, created=old)
        handler.handler({"stream_id": STREAM, "sequence": seq}, Context())
    # 2 was recorded more than the lateness bound ago: the missing 1 is lost, and ski closed after 1 and 2.
    before, _ = stored(dynamodb)
    assert [(e.label, e.last_seq, e.status) for e in before] == [("ski", 0, "closed"), ("walk", 3, "open")]
    put_record(dynamodb, 1, "ski")
    summary = handler.handler({"stream_id": STREAM, "sequence": 1}, Context())
    assert summary["late"] is True
    reply = dynamodb.get_item(TableName="records", Key={records.PARTITION_KEY: {"S": STREAM}, records.SORT_KEY: {"N": "1"}})
    assert reply["Item"]["late"] == {"BOOL": True}
    after, _ = stored(dynamodb)
    assert [e.to_json() for e in after] == [e.to_json() for e in before]


def test_sweep_stalls_a_silent_stream_once(aws):
    dynamodb, sqs, url, handler = aws
    put_record(dynamodb, 0, "ski")
    handler.handler({"stream_id": STREAM, "sequence": 0}, Context())
    later = ep.iso(time.time() + 120)
    assert handler.handler({"sweep": True, "time": later}, Context())["stalled"] == 1
    assert handler.handler({"sweep": True, "time": later}, Context())["stalled"] == 0
    types = [e["detail-type"] for e in sent(sqs, url)]
    assert sorted(types) == ["ActivityEnded", "ActivityStarted", "StreamStalled"]
    (ski,), _ = stored(dynamodb)
    assert ski.close_reason == "stalled"


def test_the_workflow_call_is_the_one_the_handler_reads(aws):
    """UpdateEpisodes' payload (built from contracts.workflow) is what the handler takes, its summary what the step keeps."""
    from contracts import workflow
    from state_machine import definition as sm

    dynamodb, _, _, handler = aws
    put_record(dynamodb, 0, "ski")
    targets = sm.WorkflowTargets(
        validate_function_arn="arn:v", endpoint_name="ep", table_name="records", dead_letter_queue_url="q",
        episodes_function_arn=Context.invoked_function_arn,
    )
    state = sm.build_definition(targets)["States"][workflow.EPISODES]
    segment = {"stream_id": STREAM, "sequence": 0}
    payload = {key.removesuffix(".$"): segment[path.rsplit(".", 1)[1]] for key, path in state["Parameters"]["Payload"].items()}
    summary = handler.handler(payload, Context())
    kept = {key.removesuffix(".$"): summary[path.rsplit(".", 1)[1]] for key, path in state["ResultSelector"].items()}
    assert kept["late"] is False and kept["changed"] and set(kept) == set(workflow.EPISODES_RESULT)
