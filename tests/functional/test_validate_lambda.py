"""The validation Lambda's handler against moto's S3, with EventBridge events from tests/events/."""

import copy
import importlib
import sys

import boto3
import pytest
from moto import mock_aws

from contracts.environment import LambdaEnvironment, MissingEnvironment
from contracts.segments import RejectionReason, Segment
from lambdas.validate_segment.rules import SegmentRejected, rejection_class
from tests.conftest import load_event

BUCKET = "livestream-bucket"


class Context:
    function_name = "validate"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:validate"
    aws_request_id = "req"


ENVIRONMENT = LambdaEnvironment(stream_prefix="live", max_segment_bytes=8 * 1024 * 1024, segment_seconds=10,
                                result_ttl_days=30)
HANDLER = "lambdas.validate_segment.handler"


def fresh_handler():
    """Import the handler as a new container would (it reads its environment at start)."""
    sys.modules.pop(HANDLER, None)
    return importlib.import_module(HANDLER)


@pytest.fixture
def validate(monkeypatch):
    for name, value in ENVIRONMENT.to_environ().items():
        monkeypatch.setenv(name, value)
    yield fresh_handler()
    sys.modules.pop(HANDLER, None)


def test_a_missing_variable_stops_the_function_at_start(monkeypatch):
    for name, value in ENVIRONMENT.to_environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SEGMENT_SECONDS")
    try:
        with pytest.raises(MissingEnvironment, match="SEGMENT_SECONDS"):
            fresh_handler()
    finally:
        sys.modules.pop(HANDLER, None)


@pytest.fixture
def s3(monkeypatch, validate):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        validate._s3 = None
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
    validate._s3 = None


def event_for(key: str, s3=None, stored: str | None = None) -> dict:
    """The fixture event for ``key``, with the ETag of the bytes stored there (as S3 would send)."""
    event = copy.deepcopy(load_event("s3_object_created.json"))
    event["detail"]["object"]["key"] = key
    if s3 is not None:
        try:
            event["detail"]["object"]["etag"] = s3.head_object(Bucket=BUCKET, Key=stored or key)["ETag"].strip('"')
        except s3.exceptions.ClientError:
            pass  # nothing stored: the event outlived its object
    return event


def test_accepts_a_real_segment(s3, validate, segments):
    s3.upload_file(segments["bikes"][0], BUCKET, "live/cam-1/segment_00042.ts")
    event = event_for("live/cam-1/segment_00042.ts", s3)
    result = validate.handler(event, Context())
    segment = Segment(**result)
    assert (segment.stream_id, segment.sequence, segment.start_seconds) == ("cam-1", 42, 420.0)
    assert segment.s3_uri == f"s3://{BUCKET}/live/cam-1/segment_00042.ts"
    assert segment.object_version == "etag:" + event["detail"]["object"]["etag"]  # from the event
    assert segment.version_id == "" and segment.sequencer.startswith("00617F08299329D189")
    assert segment.expires_at > 0


@pytest.mark.parametrize("stored,sent", [("live/cam 1/seg 5.ts", "live/cam+1/seg+5.ts"), ("live/café/séq_5.ts", "live/café/séq_5.ts")])
def test_finds_objects_whatever_the_key_encoding(s3, validate, segments, stored, sent):
    s3.upload_file(segments["bikes"][0], BUCKET, stored)
    assert validate.handler(event_for(sent, s3, stored), Context())["key"] == stored


@pytest.mark.parametrize(
    "key,body,reason",
    [
        ("live/cam/segment_00001.ts", b"\x00" * 5000, "NOT_MPEG_TS"),
        ("live/cam/segment_00002.ts", b"", "TOO_SMALL"),
        ("live/cam/segment_00003.ts", None, "OBJECT_MISSING"),
    ],
)
def test_rejections_name_their_reason(s3, validate, key, body, reason):
    if body is not None:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    with pytest.raises(SegmentRejected) as rejected:
        validate.handler(event_for(key, s3), Context())
    assert rejected.value.reason.value == reason


def test_reads_only_the_bytes_the_event_announced(s3, validate, segments):
    key = "live/cam/segment_00007.ts"
    s3.upload_file(segments["bikes"][0], BUCKET, key)
    first = event_for(key, s3)
    s3.upload_file(segments["bikes_720p"][0], BUCKET, key)  # overwritten before the first event is handled
    with pytest.raises(SegmentRejected) as rejected:
        validate.handler(first, Context())
    assert rejected.value.reason.value == "OBJECT_REPLACED"
    second = validate.handler(event_for(key, s3), Context())
    assert second["size"] == s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]


def test_malformed_and_foreign_events_are_rejected(s3, validate):
    with pytest.raises(rejection_class(RejectionReason.MALFORMED_EVENT)):
        validate.handler({"hello": "world"}, Context())
    with pytest.raises(rejection_class(RejectionReason.MALFORMED_EVENT)):
        validate.handler(load_event("s3_object_deleted.json"), Context())
