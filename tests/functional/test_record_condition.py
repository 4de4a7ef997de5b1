"""The record's write condition against moto's DynamoDB: duplicates and older uploads write nothing."""

import boto3
import pytest
from moto import mock_aws

from contracts import records
from contracts.segments import normalise_sequencer


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": records.PARTITION_KEY, "KeyType": "HASH"}, {"AttributeName": records.SORT_KEY, "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a.name, "AttributeType": a.encoding} for a in records.KEY_ATTRIBUTES],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def put(client, version: str, sequencer: str) -> bool:
    try:
        client.put_item(
            TableName="t",
            Item={"stream_id": {"S": "cam"}, "segment_seq": {"N": "2"}, "object_version": {"S": version},
                  "sequencer": {"S": normalise_sequencer(sequencer)}},
            ConditionExpression=records.CONDITION_EXPRESSION,
            ExpressionAttributeNames=records.CONDITION_NAMES,
            ExpressionAttributeValues={":version": {"S": version}, ":sequencer": {"S": normalise_sequencer(sequencer)}},
        )
        return True
    except client.exceptions.ConditionalCheckFailedException:
        return False


def test_newer_upload_replaces_older_never_the_reverse(table):
    assert put(table, "etag:b", "0055AED6DCD90281E6")  # the newer upload's execution finishes first
    assert not put(table, "etag:a", "0055AED6DCD90281E5")  # the older one, later: nothing written
    assert not put(table, "etag:b", "0055AED6DCD90281E6")  # the same upload again: a duplicate
    assert put(table, "etag:c", "0055AED6DCD90281E7")  # a newer upload still replaces it
    item = table.get_item(TableName="t", Key={"stream_id": {"S": "cam"}, "segment_seq": {"N": "2"}})["Item"]
    assert item["object_version"]["S"] == "etag:c"
