"""The bridges' own logic, without a server (tests/functional/test_bridges.py drives them in moto)."""

import json

import pytest

from devstack import bridges
from devstack.bridges import _support, bucket_policy, invoke_endpoint, rule_targets, sdk_integration


def test_s3_event_reshaped_as_aws_sends_it():
    moto_event = {
        "version": "0", "id": "fixed", "detail-type": "Object Created", "source": "aws.s3", "time": 1790000000.5,
        "detail": {"bucket": {"name": "b"}, "object": {"key": "live/a b/seg_1.ts", "size": 1, "eTag": "abc", "version-id": "null"}},
    }
    shaped = rule_targets.aws_shaped_s3_event(moto_event)
    assert shaped["time"] == "2026-09-21T14:13:20Z"
    sequencer = shaped["detail"]["object"].pop("sequencer")
    assert shaped["detail"]["object"] == {"key": "live/a b/seg_1.ts", "size": 1, "etag": "abc"}
    assert shaped["id"] != "fixed"
    # moto sends one constant sequencer; each reshaped event gets a later one, as S3 gives.
    later = rule_targets.aws_shaped_s3_event(moto_event)["detail"]["object"]["sequencer"]
    assert int(sequencer, 16) < int(later, 16) and len(sequencer) == len(later)
    assert moto_event["detail"]["object"]["eTag"] == "abc"  # the original is left alone


@pytest.mark.parametrize(
    "status,expected_status,code",
    [(200, 200, None), (400, 424, "ModelError"), (429, 424, "ModelError"), (500, 424, "ModelError"),
     (503, 424, "ModelError")],
)
def test_container_replies_are_relayed_as_sagemaker_runtime_relays_them(status, expected_status, code):
    got_status, headers, body = invoke_endpoint.moto_reply(invoke_endpoint.contract.relay(status, '{"error": "x"}', "ep"))
    assert got_status == expected_status
    assert headers.get("x-amzn-ErrorType") == code
    assert headers["x-amzn-RequestId"]
    if code:
        assert json.loads(body)["OriginalStatusCode"] == status
        assert headers["status"] == str(expected_status)


@pytest.mark.parametrize(
    "kind,status,code",
    [("throttle", 400, "ThrottlingException"), ("unavailable", 503, "ServiceUnavailable"),
     ("down", 503, "ServiceUnavailable"), ("not_ready", 429, "ModelNotReadyException"), ("error", 424, "ModelError"),
     ("busy", 424, "ModelError")],
)
def test_injected_faults_are_sagemakers_own_answers(kind, status, code):
    relayed = invoke_endpoint.injected({"kind": kind}, "ep")
    assert (relayed.status, relayed.error) == (status, code)
    if kind == "busy":  # what the workflow's busy path matches
        assert invoke_endpoint.contract.is_retryable(relayed) and "Received server error (503)" in relayed.body["message"]
    if kind == "error":
        assert not invoke_endpoint.contract.is_retryable(relayed) and json.loads(relayed.body["OriginalMessage"])["error"]


def test_fault_rules_are_consumed_by_count_and_rate():
    plan = invoke_endpoint.FaultPlan()
    rules = [{"id": "a", "kind": "throttle", "count": 2}, {"id": "b", "kind": "error", "rate": 0.3, "seed": 1}]
    kinds = [(plan.next_fault(rules) or {}).get("kind") for _ in range(7)]
    # random.Random(1) draws 0.13, 0.85, 0.76, 0.26, 0.50: "b" applies to the 1st and 4th call it sees.
    assert kinds == ["throttle", "throttle", "error", None, None, "error", None]
    assert plan.next_fault([{"id": "a", "kind": "throttle", "count": 2}]) is None  # the same id: used up
    assert plan.next_fault([{"id": "c", "kind": "throttle", "count": 2}])["id"] == "c"  # a new rule
    with pytest.raises(ValueError, match="fault kind must be one of"):
        plan.next_fault([{"id": "d", "kind": "explode"}])


def test_tls_only_deny_applies_only_to_plain_http():
    deny = {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert bucket_policy.statement_applies(deny, {"aws:SecureTransport": "true"}) is False
    assert bucket_policy.statement_applies(deny, {"aws:SecureTransport": "false"}) is True
    assert bucket_policy.statement_applies({"Effect": "Allow"}) is True
    allow = {"Effect": "Allow", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert bucket_policy.applicable_policy({"Statement": [deny, allow]})["Statement"] == [
        {"Effect": "Allow", "Action": "s3:*"}
    ]


def test_code_error_names_end_in_exception():
    assert sdk_integration.code_error_name("SageMakerRuntime", "ThrottlingException") == (
        "SageMakerRuntime.ThrottlingException"
    )
    assert sdk_integration.code_error_name("SageMakerRuntime", "ModelError") == "SageMakerRuntime.ModelErrorException"
    assert sdk_integration.code_error_name("SageMakerRuntime", "") == "SageMakerRuntime.UnknownException"


def test_settings_file_switches_error_naming(tmp_path, monkeypatch):
    path = tmp_path / "bridges.json"
    monkeypatch.setenv(bridges.SETTINGS_ENV, str(path))
    assert bridges.bridge_settings()["sdk_error_naming"] == "sdk"
    path.write_text(json.dumps({"sdk_error_naming": "code"}))
    assert bridges.bridge_settings()["sdk_error_naming"] == "code"


@pytest.mark.parametrize("bridge", bridges.BRIDGES, ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_each_bridge_refuses_an_untested_moto(bridge, monkeypatch):
    monkeypatch.setattr(_support, "moto_version", lambda: "99.0.0")
    with pytest.raises(bridges.UntestedMoto, match=rf"{bridge.__name__} .*moto 99\.0\.0 is installed"):
        bridge.install()


def test_installed_moto_is_one_every_bridge_was_checked_against():
    for bridge in bridges.BRIDGES:
        assert _support.moto_version() in bridge.TESTED_MOTO, bridge.__name__


def test_arguments_are_found_by_name_whether_passed_by_position_or_keyword():
    def original(self, function_name, qualifier=None):
        return None

    assert _support.argument(original, "qualifier", ("self", "fn", "q"), {}) == "q"
    assert _support.argument(original, "qualifier", ("self",), {"function_name": "fn", "qualifier": "q"}) == "q"


def test_dynamodb_writes_hold_one_lock_so_conditions_and_writes_are_atomic():
    """Two conditional writes cannot interleave: a write waits while another holds the lock."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    from devstack.bridges import dynamodb_atomic

    dynamodb_atomic.install()
    entered = []
    original = DynamoDBBackend.transact_write_items
    assert _support.is_installed(original, dynamodb_atomic.__name__)
    inner = original.__kwdefaults__["_original"]
    DynamoDBBackend.transact_write_items.__kwdefaults__["_original"] = lambda *a, **k: entered.append(1)
    try:
        with dynamodb_atomic.LOCK:
            writer = threading.Thread(target=lambda: DynamoDBBackend.transact_write_items(None, []))
            writer.start()
            writer.join(0.3)
            assert writer.is_alive() and entered == []  # held off while the lock is taken
        writer.join(5)
        assert entered == [1]
    finally:
        DynamoDBBackend.transact_write_items.__kwdefaults__["_original"] = inner


def test_two_bridges_on_one_method_both_take_effect_and_reinstalling_is_a_no_op():
    """dynamodb_atomic and dynamodb_faults both patch PutItem: the second must not mistake the first for itself."""
    from moto.dynamodb.models import DynamoDBBackend

    from devstack.bridges import dynamodb_atomic, dynamodb_faults

    dynamodb_atomic.install()
    dynamodb_faults.install()
    patched = DynamoDBBackend.put_item
    assert _support.is_installed(patched, dynamodb_atomic.__name__)
    assert _support.is_installed(patched, dynamodb_faults.__name__)
    dynamodb_atomic.install()
    dynamodb_faults.install()
    assert DynamoDBBackend.put_item is patched


def test_every_devstack_module_imports_first_without_a_circular_import():
    """devstack.endpoints imports the bridges package, whose InvokeEndpoint bridge uses it back."""
    import subprocess
    import sys

    for module in ("devstack.endpoints", "devstack.bridges", "devstack.model_server", "devstack.stack"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
        assert done.returncode == 0, (module, done.stderr[-500:])
