"""The console's state-by-state view of an execution, from its log events."""

import json

from devstack.console.data import state_of
from devstack.executions import parse_log_events, steps_of
from tests.conftest import load_event


def _states(events):
    return [state_of(step) for step in steps_of(parse_log_events(json.dumps(e) for e in events))]


def test_states_carry_input_output_retries_and_the_caught_error():
    states = _states(load_event("execution_history_caught.json")["events"])
    assert [(s["name"], s["status"]) for s in states] == [
        ("ValidateSegment", "succeeded"), ("DetectActivity", "caught"), ("SegmentFailed", "failed"),
    ]
    validate, detect, failed = states
    assert validate["input"] == {"detail": {}} and validate["output"] == {"segment": {"sequence": 1}}
    assert validate["attempts"] == 1 and validate["entered_s"] == 0.1 and validate["duration_s"] == 0.4
    assert detect["attempts"] == 2
    assert [e["error"] for e in detect["errors"]] == ["SageMakerRuntime.ThrottlingException", "SageMakerRuntime.ModelErrorException"]
    assert detect["errors"][-1]["cause"] == '{"error": "not_a_video"}'
    assert failed["errors"] == [{"error": "SegmentFailed", "cause": "The segment was not recorded"}]


def test_a_retried_task_that_succeeds_in_the_end_is_not_caught():
    events = [e for e in load_event("execution_history_caught.json")["events"] if int(e["id"]) <= 9]
    last = dict(events[-1])
    events += [
        {**last, "id": "10", "type": "TaskSucceeded", "details": {"output": "{}"}},
        {**last, "id": "11", "type": "TaskStateExited", "details": {"name": "DetectActivity", "output": "{}"}},
    ]
    detect = _states(events)[-1]
    assert detect["status"] == "succeeded" and detect["attempts"] == 2 and len(detect["errors"]) == 1
