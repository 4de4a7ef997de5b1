"""The deployed definition executed locally through the whole chain:
upload -> EventBridge rule -> Express execution -> item in DynamoDB, or message in the DLQ."""

import json

import pytest

from devstack import observe

pytestmark = pytest.mark.slow


def test_happy_path_writes_one_complete_record(pipeline, segments):
    stream, key = pipeline.stream_key("segment_00007.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "SUCCEEDED", pipeline.dead_letters_for(key)
    (record,) = pipeline.records(stream)
    assert record["segment_seq"] == 7 and record["start_seconds"] == 70
    assert record["s3_uri"].endswith(key)
    assert isinstance(record["probability"], float) and record["label"] == record["top_k"][0]["label"]
    assert record["random_weights"] is True and record["model"]["name"]
    assert record["frames"]["indices"][0][0] == 93
    assert record["created_at"].endswith("+00:00") or record["created_at"].endswith("Z")
    assert record["expires_at"] > 0 and record["execution_arn"] == execution["executionArn"]


@pytest.mark.parametrize("naming", ["sdk", "code"])
def test_throttled_twice_then_succeeds(pipeline, segments, naming):
    pipeline.stack.set_bridge(sdk_error_naming=naming)
    pipeline.faults(kind="throttle", count=2)
    stream, key = pipeline.stream_key("segment_00001.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "SUCCEEDED"
    _, steps = observe.trace(pipeline.info, execution["executionArn"])
    detect = next(s for s in steps if s.state == "DetectActivity")
    expected = "SageMakerRuntime.SageMakerRuntimeException" if naming == "sdk" else "SageMakerRuntime.ThrottlingException"
    assert detect.attempts == 3 and detect.errors == [expected, expected]
    assert len(pipeline.records(stream)) == 1


@pytest.mark.parametrize("naming", ["sdk", "code"])
def test_throttled_past_retry_budget_goes_to_dlq(pipeline, segments, naming):
    from state_machine.definition import WorkflowTuning

    pipeline.stack.set_bridge(sdk_error_naming=naming)
    pipeline.faults(kind="throttle")  # every call
    stream, key = pipeline.stream_key("segment_00002.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    (letter,) = pipeline.dead_letters_for(key)
    assert letter.failed_state == "DetectActivity"
    expected = "SageMakerRuntime.SageMakerRuntimeException" if naming == "sdk" else "SageMakerRuntime.ThrottlingException"
    assert letter.error == expected
    assert letter.event["detail"]["object"]["key"] == key
    assert pipeline.records(stream) == []
    _, steps = observe.trace(pipeline.info, execution["executionArn"])
    detect = next(s for s in steps if s.state == "DetectActivity")
    tuning = WorkflowTuning()
    # The named throttle gets the throttling retrier; the base exception (unmodelled errors) the shorter one.
    retrier = tuning.endpoint_unmodelled if naming == "sdk" else tuning.endpoint_throttling
    assert detect.attempts == 1 + retrier.max_attempts


def test_invalid_object_goes_to_dlq_with_its_reason(pipeline):
    stream, key = pipeline.stream_key("segment_00003.ts")
    before = pipeline.upload(key, body=b"definitely not a video " * 100)
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    (letter,) = pipeline.dead_letters_for(key)
    assert (letter.failed_state, letter.error, letter.reason) == ("ValidateSegment", "SegmentRejected.NOT_MPEG_TS", "NOT_MPEG_TS")
    assert pipeline.records(stream) == []


def test_same_event_twice_writes_one_item(pipeline, segments):
    stream, key = pipeline.stream_key("segment_00004.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (first,) = pipeline.wait(before)
    sfn = pipeline.clients["stepfunctions"]
    event = json.loads(sfn.describe_execution(executionArn=first["executionArn"])["input"])
    # Express starts are at-least-once: deliver the very same event again.
    sfn.start_execution(stateMachineArn=pipeline.info["state_machine_arn"], name="redelivery-" + stream, input=json.dumps(event))
    (second,) = pipeline.wait(before + 1)
    assert second["status"] == "SUCCEEDED"
    _, steps = observe.trace(pipeline.info, second["executionArn"])
    assert steps[-1].state == "AlreadyRecorded"
    assert len(pipeline.records(stream)) == 1


def test_playlist_ends_at_once_with_no_record_and_no_dead_letter(pipeline):
    stream, key = pipeline.stream_key("index.m3u8")
    (execution,) = pipeline.wait(pipeline.upload(key, body=b"#EXTM3U\n#EXT-X-VERSION:3\n"))
    assert execution["status"] == "SUCCEEDED"
    _, steps = observe.trace(pipeline.info, execution["executionArn"])
    assert [step.state for step in steps] == ["IsPlaylist", "PlaylistIgnored"]
    assert pipeline.records(stream) == [] and pipeline.dead_letters_for(key) == []


def test_key_outside_prefix_starts_no_execution(pipeline, segments):
    before = pipeline.upload("elsewhere/cam/segment_00001.ts", path=segments["bikes"][0])
    assert pipeline.started_before_sentinel(before) == []


def test_quick_reupload_records_the_second_upload_whole(pipeline, segments):
    """Two uploads of one key in a row: the record is the second's, never a mix of both."""
    stream, key = pipeline.stream_key("segment_00002.ts")
    bucket = pipeline.info["livestream_bucket"]
    before = pipeline.upload(key, path=segments["bikes"][0])
    pipeline.s3.upload_file(segments["bikes_720p"][0], bucket, key)  # at once: the first is not processed yet
    pipeline.wait(before, new=2)
    head = pipeline.s3.head_object(Bucket=bucket, Key=key)
    (record,) = pipeline.records(stream)
    assert record["object_version"] == "etag:" + head["ETag"].strip('"')
    assert record["object_size"] == head["ContentLength"] and record["video"]["width"] == 1280
    # The first upload either was recorded and then replaced, or found its bytes gone (never mixed).
    assert [letter.reason for letter in pipeline.dead_letters_for(key)] in ([], ["OBJECT_REPLACED"])
