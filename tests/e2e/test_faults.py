"""Injected faults: transient ones cost retries (visible in the trace), permanent ones end in the DLQ."""

import uuid

import pytest

from devstack import observe

pytestmark = pytest.mark.slow


def step(pipeline, execution, state):
    _, steps = observe.trace(pipeline.info, execution["executionArn"])
    return next(s for s in steps if s.state == state)


def test_thirty_percent_throttling_costs_time_not_data(pipeline, segments):
    pipeline.faults(kind="throttle", rate=0.3, seed=1)  # seed 1 throttles the 1st and 4th calls
    stream = f"thirty-{uuid.uuid4().hex[:6]}"
    before = pipeline.upload(f"{pipeline.info['stream_prefix']}/{stream}/segment_00000.ts", path=segments["bikes"][0])
    for index in range(1, 6):
        pipeline.upload(f"{pipeline.info['stream_prefix']}/{stream}/segment_{index:05d}.ts", path=segments["bikes"][0])
    executions = pipeline.wait(before, new=6)
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 6
    assert len(pipeline.records(stream)) == 6
    retries = [step(pipeline, e, "DetectActivity").attempts - 1 for e in executions]
    assert sum(retries) > 0, "a 30% fault rate over 6+ calls should have throttled at least once"


def test_slow_endpoint_times_out_to_the_dlq_without_a_second_copy(pipeline, segments):
    pipeline.faults(kind="slow", delay_s=30, count=1)  # the task timeout is 20 s in this stack
    stream, key = pipeline.stream_key("segment_00001.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    detect = step(pipeline, execution, "DetectActivity")
    # The timed-out request may still be running: no retry sends it a second copy.
    assert detect.errors == ["States.Timeout"] and detect.attempts == 1
    (letter,) = pipeline.dead_letters_for(key)
    assert letter.reason == "States.Timeout" and pipeline.records(stream) == []


def test_endpoint_5xx_is_permanent_and_goes_to_dlq(pipeline, segments):
    pipeline.faults(kind="error", count=1)
    stream, key = pipeline.stream_key("segment_00001.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    (letter,) = pipeline.dead_letters_for(key)
    assert letter.error == "SageMakerRuntime.ModelErrorException" and letter.reason == "INJECTED_ERROR"
    assert step(pipeline, execution, "DetectActivity").attempts == 1


def test_endpoint_down_is_retried_then_goes_to_dlq(pipeline, segments):
    pipeline.faults(kind="down")
    stream, key = pipeline.stream_key("segment_00001.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    (letter,) = pipeline.dead_letters_for(key)
    assert letter.error == "SageMakerRuntime.ServiceUnavailableException"
    detect = step(pipeline, execution, "DetectActivity")
    assert detect.attempts == 1 + 2 and set(detect.errors) == {"SageMakerRuntime.ServiceUnavailableException"}


def test_dynamodb_throttling_is_retried(pipeline, segments):
    pipeline.stack.set_bridge(dynamodb_put_throttle={"id": uuid.uuid4().hex, "count": 2})
    stream, key = pipeline.stream_key("segment_00001.ts")
    before = pipeline.upload(key, path=segments["bikes"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "SUCCEEDED"
    record = step(pipeline, execution, "RecordDetection")
    assert record.errors == ["DynamoDB.ProvisionedThroughputExceededException"] * 2
    assert len(pipeline.records(stream)) == 1
