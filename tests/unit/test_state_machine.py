"""The definition builder: valid ASL, the retry/catch structure, the Express budget, permissions."""

import pytest
from statelint.linter import Linter

from contracts import records
from state_machine import definition as sm
from state_machine.permissions import required_permissions

TARGETS = sm.WorkflowTargets(
    validate_function_arn="arn:aws:lambda:us-east-1:123456789012:function:validate",
    endpoint_name="activity-endpoint",
    table_name="detections",
    dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
)


@pytest.fixture
def definition():
    return sm.build_definition(TARGETS)


def test_statelint_finds_no_problem(definition):
    assert Linter.validate(definition) == []


def test_statelint_catches_an_injected_error(definition):
    definition["States"][sm.STATE_DETECT]["Next"] = "NoSuchState"
    assert Linter.validate(definition), "the validator must notice a dangling Next"


def test_detect_retries_throttling_under_both_names_with_jitter(definition):
    retriers = definition["States"][sm.STATE_DETECT]["Retry"]
    throttling, unmodelled = retriers[0], retriers[1]
    assert throttling["ErrorEquals"] == ["SageMakerRuntime.ThrottlingException"]
    assert throttling["JitterStrategy"] == "FULL" and throttling["MaxDelaySeconds"] > 0
    assert throttling["BackoffRate"] > 1 and 0 < throttling["MaxAttempts"] <= 10
    # The base exception (any unmodelled error, an access denial too) has its own, shorter retrier.
    assert unmodelled["ErrorEquals"] == ["SageMakerRuntime.SageMakerRuntimeException"]
    assert 0 < unmodelled["MaxAttempts"] < throttling["MaxAttempts"] and unmodelled["JitterStrategy"] == "FULL"
    transient = {e for r in retriers for e in r["ErrorEquals"]}
    assert {"SageMakerRuntime.ServiceUnavailableException", "SageMakerRuntime.ModelNotReadyException",
            "SageMakerRuntime.InternalFailureException"} <= transient
    # A timed-out request may still run: no retry sends a second copy (the busy loop handles overload).
    assert "States.Timeout" not in transient
    assert definition["States"][sm.STATE_DETECT]["TimeoutSeconds"] > 0


def test_busy_model_error_waits_and_asks_again_within_a_bound(definition):
    from contracts.invoke_endpoint import BUSY_CAUSE_PATTERN

    states = definition["States"]
    catchers = states[sm.STATE_DETECT]["Catch"]
    assert catchers[0] == {"ErrorEquals": ["SageMakerRuntime.ModelErrorException"], "ResultPath": "$.failure",
                           "Next": sm.STATE_IS_BUSY}
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"] and catchers[-1]["Next"] == "DetectActivityFailed"
    (choice,) = states[sm.STATE_IS_BUSY]["Choices"]
    cause, bound = choice["And"]
    assert cause == {"Variable": "$.failure.Cause", "StringMatches": BUSY_CAUSE_PATTERN}
    assert bound["NumericLessThan"] == len(sm.WorkflowTuning().endpoint_busy_waits)
    assert states[sm.STATE_IS_BUSY]["Default"] == "DetectActivityFailed"  # any other ModelError: DLQ
    assert states[sm.STATE_WAIT_BUSY]["Next"] == sm.STATE_DETECT
    # The counter starts at 0 on the way in, so every execution gets the whole busy budget.
    assert states[sm.STATE_BUILD_REQUEST]["Next"] == sm.STATE_INIT_BUSY
    assert states[sm.STATE_INIT_BUSY]["Result"] == {"attempt": 0}


def test_busy_pattern_matches_the_cause_sagemaker_gives_and_nothing_else():
    from fnmatch import fnmatchcase

    from contracts.invoke_endpoint import BUSY_CAUSE_PATTERN, relay

    busy = relay(503, '{"code": 503, "type": "ServiceUnavailableException"}').body["message"]
    refused = relay(422, '{"error": "not_a_video"}').body["message"]
    failed = relay(500, '{"error": "internal"}').body["message"]
    # Step Functions' cause wraps the message: "... (Service: SageMakerRuntime, Status Code: 424, ...)".
    assert fnmatchcase(f"{busy} (Service: SageMakerRuntime, Status Code: 424)", BUSY_CAUSE_PATTERN)
    assert not fnmatchcase(refused, BUSY_CAUSE_PATTERN) and not fnmatchcase(failed, BUSY_CAUSE_PATTERN)


def test_endpoint_call_parses_json_body(definition):
    detect = definition["States"][sm.STATE_DETECT]
    assert detect["Resource"] == "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint"
    assert detect["ResultSelector"] == {"result.$": "States.StringToJson($.Body)"}
    assert detect["Parameters"]["EndpointName"] == "activity-endpoint"


def test_duplicate_write_ends_as_success(definition):
    record = definition["States"][sm.STATE_RECORD]
    assert record["Parameters"]["ConditionExpression"] == records.CONDITION_EXPRESSION
    duplicate_catch = record["Catch"][0]
    assert duplicate_catch["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    assert definition["States"][duplicate_catch["Next"]]["Type"] == "Succeed"


def test_every_failure_reaches_dead_letter_queue_then_fails(definition):
    states = definition["States"]
    for name in (sm.STATE_VALIDATE, sm.STATE_DETECT, sm.STATE_RECORD):
        catch_all = states[name]["Catch"][-1]
        assert catch_all["ErrorEquals"] == ["States.ALL"]
        passed = states[catch_all["Next"]]
        assert passed["Parameters"]["failed_state"] == name
        assert passed["Next"] == sm.STATE_SEND_DLQ
    send = states[sm.STATE_SEND_DLQ]
    assert send["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert send["Parameters"]["QueueUrl"] == TARGETS.dead_letter_queue_url
    assert states[send["Next"]]["Type"] == "Fail"


def test_worst_case_stays_inside_express_limit():
    tuning = sm.WorkflowTuning()
    assert tuning.worst_case_seconds() < sm.EXPRESS_LIMIT_SECONDS
    slow = sm.WorkflowTuning(endpoint_timeout_seconds=200)
    assert slow.worst_case_seconds() > sm.EXPRESS_LIMIT_SECONDS  # the bound really depends on the timeout


def test_record_item_uses_every_schema_attribute(definition):
    item = definition["States"][sm.STATE_RECORD]["Parameters"]["Item"]
    assert set(item) == {a.name for a in records.ATTRIBUTES}
    assert item["probability"] == {"N.$": "States.Format('{}', $.inference.result.probability)"}


def test_permissions_derived_from_definition(definition):
    actions = {(p.action, p.resource_ref) for p in required_permissions(definition)}
    assert actions == {
        ("lambda:InvokeFunction", TARGETS.validate_function_arn),
        ("sagemaker:InvokeEndpoint", TARGETS.endpoint_name),
        ("dynamodb:PutItem", TARGETS.table_name),
        ("sqs:SendMessage", TARGETS.dead_letter_queue_url),
    }


def test_permissions_refuse_unknown_integration(definition):
    definition["States"][sm.STATE_DETECT]["Resource"] = "arn:aws:states:::aws-sdk:s3:deleteBucket"
    with pytest.raises(ValueError, match="no IAM mapping"):
        required_permissions(definition)


def test_per_segment_alert_branch_only_when_opted_in():
    watching = {**TARGETS.__dict__, "alert_bus_name": "bus", "watch_activities": ("Skiing", "Biking")}
    watched = sm.build_definition(sm.WorkflowTargets(**{**watching, "segment_alerts": True}))
    assert sm.STATE_ALERT in watched["States"] and sm.STATE_ALERT not in sm.build_definition(TARGETS)["States"]
    # Episodes send ActivityStarted/ActivityEnded; the per-segment event is off unless asked for.
    assert sm.STATE_ALERT not in sm.build_definition(sm.WorkflowTargets(**watching))["States"]
    assert Linter.validate(watched) == []
    assert ("events:PutEvents", "bus") in {(p.action, p.resource_ref) for p in required_permissions(watched)}


#: Step Functions' service names -> botocore service and the operation the definition calls.
SDK_SERVICES = {
    "SageMakerRuntime": ("sagemaker-runtime", "InvokeEndpoint"),
    "DynamoDB": ("dynamodb", "PutItem"),
    "Lambda": ("lambda", "Invoke"),
}
#: Names Step Functions documents beyond the model's error shapes: each service's base exception
#: (unmodelled errors), and Lambda's transient errors from the "Handle transient Lambda service
#: exceptions" guidance of the Step Functions developer guide.
DOCUMENTED_EXTRA = {
    "SageMakerRuntime.SageMakerRuntimeException",
    "SageMakerRuntime.ThrottlingException",  # a common AWS error code, produced under the 'code' naming
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
}


def test_every_retried_or_caught_sdk_error_is_named_as_step_functions_emits_it():
    """Each <Service>.<Error> is an error shape of the called operation in botocore's model, with
    Step Functions' rule applied (PascalCase, always ending in Exception), or a documented extra."""
    import botocore.session

    session = botocore.session.get_session()
    emitted: dict[str, set[str]] = {}
    for prefix, (service, operation) in SDK_SERVICES.items():
        shapes = session.get_service_model(service).operation_model(operation).error_shapes
        emitted[prefix] = {s.name if s.name.endswith("Exception") else s.name + "Exception" for s in shapes}
    definition = sm.build_definition(TARGETS)
    names = [
        error
        for state in definition["States"].values()
        for handler in state.get("Retry", []) + state.get("Catch", [])
        for error in handler["ErrorEquals"]
        if error.split(".")[0] in SDK_SERVICES
    ]
    assert len(names) >= 12
    for name in names:
        service, error = name.split(".", 1)
        assert error in emitted[service] or name in DOCUMENTED_EXTRA, f"{name}: Step Functions never emits this name"
    assert "DynamoDB.RequestLimitExceededException" in names and "DynamoDB.RequestLimitExceeded" not in names
EPISODES = sm.WorkflowTargets(**{**TARGETS.__dict__, "episodes_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:episodes"})


def test_episodes_follow_every_record_and_every_duplicate():
    definition = sm.build_definition(EPISODES)
    assert Linter.validate(definition) == []
    states = definition["States"]
    record = states[sm.STATE_RECORD]
    assert record["Next"] == sm.STATE_EPISODES
    assert record["Catch"][0] == {"ErrorEquals": [sm.DUPLICATE_ERROR], "ResultPath": "$.duplicate", "Next": sm.STATE_EPISODES}
    episodes = states[sm.STATE_EPISODES]
    assert episodes["Parameters"]["Payload"] == {"stream_id.$": "$.segment.stream_id", "sequence.$": "$.segment.sequence"}
    # A failed fold never dead-letters a recorded segment: the sweep folds it later.
    assert episodes["Catch"][0]["Next"] == sm.STATE_AFTER_EPISODES
    choice = states[sm.STATE_AFTER_EPISODES]
    assert choice["Choices"][0]["Next"] == sm.STATE_DUPLICATE and choice["Default"] == sm.STATE_RECORDED
    assert ("lambda:InvokeFunction", EPISODES.episodes_function_arn) in {
        (p.action, p.resource_ref) for p in required_permissions(definition)
    }


def test_worst_case_with_episodes_fits_express():
    tuning = sm.WorkflowTuning()
    assert tuning.worst_case_seconds() <= sm.EXPRESS_LIMIT_SECONDS
    longer = sm.WorkflowTuning(episodes_timeout_seconds=tuning.episodes_timeout_seconds + 20)
    assert longer.worst_case_seconds() > sm.EXPRESS_LIMIT_SECONDS  # the episodes step is counted
