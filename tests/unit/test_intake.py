"""The intake's budget and decisions (contracts.intake): what happens to a message after each try."""

import pytest

from contracts import intake, workflow
from contracts.intake import EXPRESS_LIMIT_SECONDS, IntakeTuning, execution_name, outcome_of_execution, outcome_of_start_error

TUNING = IntakeTuning()


def test_the_starter_outlives_the_longest_execution_and_the_queue_hides_a_message_while_it_runs():
    assert TUNING.starter_timeout_seconds > EXPRESS_LIMIT_SECONDS
    # Lambda's guidance for an SQS event source: visibility at least six times the function's timeout.
    assert TUNING.visibility_timeout_seconds >= 6 * TUNING.starter_timeout_seconds
    # SQS's own range for VisibilityTimeout (0-43200 s) and the longest backoff fits in it.
    assert TUNING.visibility_timeout_seconds <= 43200 and TUNING.max_retry_seconds <= 43200


def test_the_queue_redrives_only_after_the_starter_had_all_its_tries():
    assert TUNING.redrive_receives > TUNING.max_attempts


def test_backoff_doubles_up_to_its_cap():
    delays = [TUNING.retry_delay_seconds(n) for n in range(1, 8)]
    assert delays[:4] == [30, 60, 120, 240]
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:]))
    assert max(delays) == TUNING.max_retry_seconds


def test_an_event_is_retried_for_longer_than_a_burst_lasts_before_it_is_given_up():
    # "Nothing in the DLQ that would have succeeded a minute later": the waits between tries
    # alone span several minutes, and everything ends well within the queue's retention.
    waits = sum(TUNING.retry_delay_seconds(n) for n in range(1, TUNING.max_attempts))
    assert waits >= 5 * 60
    assert TUNING.worst_case_seconds() == TUNING.max_attempts * EXPRESS_LIMIT_SECONDS + waits
    assert TUNING.worst_case_seconds() < TUNING.retention_seconds


@pytest.mark.parametrize("status, error", [("SUCCEEDED", None), ("FAILED", workflow.FAILED)])
def test_an_execution_with_an_outcome_deletes_its_message(status, error):
    assert outcome_of_execution(status, error, None, attempt=1) == intake.Outcome(done=True)


@pytest.mark.parametrize("status, error", [("TIMED_OUT", None), ("FAILED", "States.Runtime"), ("FAILED", None)])
def test_an_execution_without_an_outcome_is_tried_again_later(status, error):
    outcome = outcome_of_execution(status, error, "why", attempt=2)
    assert not outcome.done and not outcome.gave_up
    assert outcome.retry_in == TUNING.retry_delay_seconds(2)
    assert outcome.error == "Execution." + (error or status) and outcome.cause == "why"


def test_the_last_try_gives_up_with_the_reason():
    outcome = outcome_of_execution("TIMED_OUT", None, None, attempt=TUNING.max_attempts)
    assert outcome.gave_up and outcome.retry_in is None and outcome.error == "Execution.TIMED_OUT"


def test_throttled_starts_are_retried_and_bad_input_is_given_up_at_once():
    throttled = outcome_of_start_error("ThrottlingException", "Rate exceeded", attempt=1)
    assert throttled.retry_in == TUNING.first_retry_seconds and not throttled.gave_up
    bad = outcome_of_start_error("InvalidExecutionInput", "not JSON", attempt=1)
    assert bad.gave_up and bad.error == "StartSyncExecution.InvalidExecutionInput"


def test_execution_names_are_unique_per_try_and_within_step_functions_limit():
    message_id = "059f36b4-87a3-44ab-83d2-661975830a7d"
    names = {execution_name(message_id, n) for n in range(1, TUNING.max_attempts + 1)}
    assert len(names) == TUNING.max_attempts
    assert all(len(name) <= 80 for name in names)
    assert len(execution_name("x" * 100, 1)) == 80
