"""The console's state-by-state view of an execution, from its history events."""

from devstack.console.data import states_from_history
from tests.conftest import load_event


def test_states_carry_input_output_retries_and_the_caught_error():
    states = states_from_history(load_event("execution_history_caught.json")["events"])
    assert [(s["name"], s["type"], s["status"]) for s in states] == [
        ("ValidateSegment", "Task", "succeeded"),
        ("DetectActivity", "Task", "caught"),
        ("SegmentFailed", "Fail", "failed"),
    ]
    validate, detect, failed = states
    assert validate["input"] == {"detail": {}} and validate["output"] == {"segment": {"sequence": 1}}
    assert validate["attempts"] == 1 and validate["entered_s"] == 0.1 and validate["duration_s"] == 0.4
    assert detect["attempts"] == 2
    assert [e["error"] for e in detect["errors"]] == ["SageMakerRuntime.ThrottlingException", "SageMakerRuntime.ModelErrorException"]
    assert detect["errors"][-1]["cause"] == '{"error": "not_a_video"}'
    assert failed["errors"] == [{"error": "SegmentFailed", "cause": "The segment was not recorded"}]


def test_a_retried_task_that_succeeds_in_the_end_is_not_caught():
    events = [e for e in load_event("execution_history_caught.json")["events"] if e["id"] <= 9]
    events += [
        {"type": "TaskSucceeded", "timestamp": "2026-11-25T12:00:01.800Z", "taskSucceededEventDetails": {"output": "{}"}},
        {"type": "TaskStateExited", "timestamp": "2026-11-25T12:00:01.900Z", "stateExitedEventDetails": {"name": "DetectActivity", "output": "{}"}},
    ]
    detect = states_from_history(events)[-1]
    assert detect["status"] == "succeeded" and detect["attempts"] == 2 and len(detect["errors"]) == 1
