"""Each boundary has one definition under contracts/; these fail when either side drifts from it."""

import dataclasses
import json

import pytest

from contracts import dead_letters, events, records, workflow
from contracts.endpoint import EndpointRequest, EndpointResponse
from contracts.segments import Segment
from state_machine import definition as sm

TARGETS = sm.WorkflowTargets(
    validate_function_arn="arn:aws:lambda:us-east-1:123456789012:function:v", endpoint_name="ep", table_name="t",
    dead_letter_queue_url="https://sqs/q", alert_bus_name="bus", watch_activities=("Biking",), segment_alerts=True,
    episodes_function_arn="arn:aws:lambda:us-east-1:123456789012:function:e",
)


@pytest.fixture(scope="module")
def states():
    return sm.build_definition(TARGETS)["States"]


def test_the_definition_uses_every_state_name_of_the_contract(states):
    names = set(workflow.STATES) | {workflow.failed_state(state) for state in workflow.FAILING_STATES}
    assert set(states) == names


def test_the_request_the_workflow_builds_is_the_endpoint_request(states):
    parameters = states[workflow.BUILD_REQUEST]["Parameters"]
    assert {key.removesuffix(".$") for key in parameters} == {f.name for f in dataclasses.fields(EndpointRequest)}
    assert parameters["s3_uri.$"] == workflow.segment("s3_uri")
    assert states[workflow.BUILD_REQUEST]["ResultPath"] == workflow.REQUEST_PATH
    assert workflow.REQUEST_PATH in states[workflow.DETECT]["Parameters"]["Body.$"]


def test_the_response_lands_where_the_record_and_the_alert_read_it(states):
    detect = states[workflow.DETECT]
    assert detect["ResultPath"] == workflow.INFERENCE_PATH
    assert set(detect["ResultSelector"]) == {workflow.RESULT_KEY + ".$"}
    response_fields = {f.name for f in dataclasses.fields(EndpointResponse)}
    read = [a.source for a in records.ATTRIBUTES if a.source.startswith(workflow.RESULT_PATH + ".")]
    assert read and {path[len(workflow.RESULT_PATH) + 1:].split(".")[0] for path in read} <= response_fields
    with pytest.raises(KeyError):
        workflow.result("segment")  # the old name of `video`: a path into the response is checked


def test_the_segment_paths_name_segment_fields():
    segment_fields = {f.name for f in dataclasses.fields(Segment)}
    read = [a.source for a in records.ATTRIBUTES if a.source.startswith(workflow.SEGMENT_PATH + ".")]
    assert read and {path.split(".")[2] for path in read} <= segment_fields
    with pytest.raises(KeyError):
        workflow.segment("video")


def test_the_response_contract_refuses_unknown_fields():
    body = {f.name: None for f in dataclasses.fields(EndpointResponse)}
    with pytest.raises(ValueError, match="segment"):
        EndpointResponse.from_dict({**body, "segment": {}})
    assert "warning" not in EndpointResponse.from_dict(body).to_dict()


def test_the_alert_the_workflow_publishes_is_the_event_readers_parse(states):
    (entry,) = states[workflow.ALERT]["Parameters"]["Entries"]
    kind = events.ACTIVITY_DETECTED
    assert entry == kind.asl_entry("bus")
    # What EventBridge delivers: the entry with its paths resolved.
    delivered = {"source": entry["Source"], "detail-type": entry["DetailType"],
                 "detail": {key.removesuffix(".$"): 1 for key in entry["Detail"]}}
    assert kind.parse(delivered) == {name: 1 for name in kind.fields}
    with pytest.raises(ValueError):
        kind.parse({**delivered, "detail-type": "Other"})


def test_the_dead_letter_message_the_workflow_assembles_is_the_one_readers_parse(states):
    for state in workflow.FAILING_STATES:
        passed = states[workflow.failed_state(state)]
        assert passed["ResultPath"] == workflow.DEAD_LETTER_PATH
        message = {key.removesuffix(".$"): "x" if key.endswith(".$") else value for key, value in passed["Parameters"].items()}
        message["event"] = {}
        letter = dead_letters.DeadLetter.from_body(json.dumps(message))
        assert {f.name for f in dataclasses.fields(letter)} <= set(message)
    with pytest.raises(ValueError, match="not a workflow dead letter"):
        dead_letters.DeadLetter.from_body(json.dumps({**message, "kind": "other"}))
    catch = states[workflow.VALIDATE]["Catch"][-1]
    assert catch["ResultPath"] == workflow.FAILURE_PATH


def _letter(error: str, cause: str) -> dead_letters.DeadLetter:
    return dead_letters.DeadLetter("DetectActivity", error, cause, {}, "arn", "now")


def test_a_rejection_reason_travels_as_the_error_name():
    from contracts.segments import RejectionReason, rejection_error

    cause = json.dumps({"errorMessage": "TOO_SMALL: looks like a reason but is only the detail", "errorType": "x"})
    assert _letter(rejection_error(RejectionReason.NOT_MPEG_TS), cause).reason == "NOT_MPEG_TS"
    assert _letter("States.Timeout", "").reason == "States.Timeout"


def test_the_endpoint_error_code_is_read_from_the_body_sagemaker_relays():
    from contracts.invoke_endpoint import relay

    body = json.dumps({"error": "segment_too_long", "message": 'the segment lasts "40" s. See the limit'})
    cause = relay(413, body, "ep").body["message"] + " (Service: SageMakerRuntime, Status Code: 424, Request ID: r)"
    assert _letter(dead_letters.ENDPOINT_MODEL_ERROR, cause).reason == "SEGMENT_TOO_LONG"
    assert _letter(dead_letters.ENDPOINT_MODEL_ERROR, "no body here").reason == dead_letters.ENDPOINT_MODEL_ERROR


def _details_by_type() -> dict:
    """One detail of each type, as its sender builds it (the workflow's from its paths, the episodes' from the fold)."""
    from contracts import episodes as ep

    episode = ep.Episode(
        episode_id="e", stream_id="cam", label="Biking", status=ep.STATUS_CLOSED, start_seq=1, last_seq=2,
        start_seconds=10.0, last_seen_seconds=30.0, peak_probability=0.9, peak_seq=2, peak_seconds=25.0, segment_count=2,
        close_reason=ep.REASON_ABSENT,
    )
    details = {kind.detail_type: {name: 1 for name in kind.fields} for kind in events.KINDS}
    for detail_type in events.EPISODE_DETAIL_TYPES:
        details[detail_type] = ep.event_detail(ep.Transition(detail_type, episode, "cam"))
    for detail_type in events.STREAM_DETAIL_TYPES:
        details[detail_type] = ep.event_detail(ep.Transition(detail_type, None, "cam", at_seconds=40.0))
    return details


def test_every_event_on_the_bus_has_an_email_sentence_reading_fields_its_sender_sets():
    from infra.alerts import SENTENCES

    details = _details_by_type()
    assert set(SENTENCES) == set(details) == set(events.DETAIL_TYPES)
    for detail_type, (paths, _) in SENTENCES.items():
        read = {path.split(".", 2)[2] for path in paths.values() if path.startswith("$.detail.")}
        assert read <= set(details[detail_type]), detail_type


def test_the_episodes_step_calls_with_segment_fields_and_keeps_the_summary_fields(states):
    episodes = states[workflow.EPISODES]
    assert episodes["Parameters"]["Payload"] == {f"{name}.$": workflow.segment(name) for name in workflow.EPISODES_REQUEST}
    assert episodes["ResultPath"] == workflow.EPISODES_PATH
    assert {key.removesuffix(".$") for key in episodes["ResultSelector"]} == set(workflow.EPISODES_RESULT)
