"""Redrive: dead letters go back through the workflow once fixed; idempotent; removed only on success."""

import uuid

import pytest

from devstack.redrive import redrive

pytestmark = pytest.mark.slow


def test_redrive_after_a_fix_records_once_and_empties_the_queue(pipeline, segments):
    stream = f"redrive-{uuid.uuid4().hex[:6]}"
    prefix = f"{pipeline.info['stream_prefix']}/{stream}/"
    mine = lambda letter: (letter.object_key or "").startswith(prefix)  # noqa: E731
    good, bad = prefix + "segment_00001.ts", prefix + "segment_00002.ts"

    pipeline.faults(kind="error", count=1)  # the endpoint fails once: `good` is dead-lettered
    pipeline.wait(pipeline.upload(good, path=segments["bikes"][0]))
    pipeline.wait(pipeline.upload(bad, body=b"\x00" * 5000))  # never valid
    assert {d.object_key for d in pipeline.all_dead_letters() if mine(d)} == {good, bad}

    report = redrive(pipeline.info, only=mine)
    assert report.redriven == [good]
    assert report.still_failing == [(bad, "NOT_MPEG_TS")]
    assert [r["segment_seq"] for r in pipeline.records(stream)] == [1]
    # The segment that still fails keeps exactly one message; the recorded one has none.
    assert [d.object_key for d in pipeline.all_dead_letters() if mine(d)] == [bad]

    again = redrive(pipeline.info, only=mine)
    assert again.redriven == [] and again.still_failing == [(bad, "NOT_MPEG_TS")]
    assert len(pipeline.records(stream)) == 1


def test_redrive_of_an_already_recorded_segment_writes_nothing_new(pipeline, segments):
    import json

    stream, key = pipeline.stream_key("segment_00003.ts")
    (execution,) = pipeline.wait(pipeline.upload(key, path=segments["bikes"][0]))
    (record,) = pipeline.records(stream)
    event = json.loads(pipeline.clients["stepfunctions"].describe_execution(executionArn=execution["executionArn"])["input"])
    # A stale dead letter for a segment that was recorded meanwhile (e.g. by a retry upstream).
    pipeline.clients["sqs"].send_message(
        QueueUrl=pipeline.info["dlq_url"],
        MessageBody=json.dumps({"kind": "workflow-failure", "failed_state": "DetectActivity", "error": "x", "cause": "y",
                                "event": event, "execution_arn": "old", "failed_at": "then"}),
    )
    report = redrive(pipeline.info, only=lambda letter: letter.object_key == key)
    assert report.redriven == [key]
    (after,) = pipeline.records(stream)
    assert after["execution_arn"] == record["execution_arn"]  # untouched
    assert not pipeline.dead_letters_for(key)
