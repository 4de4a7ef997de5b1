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
    [(200, 200, None), (429, 400, "ThrottlingException"), (503, 503, "ServiceUnavailable"),
     (400, 424, "ModelError"), (500, 424, "ModelError")],
)
def test_container_replies_map_to_sagemaker_runtime_errors(status, expected_status, code):
    got_status, headers, body = invoke_endpoint.map_container_reply(status, '{"error": "x"}', "ep")
    assert got_status == expected_status
    assert headers.get("x-amzn-ErrorType") == code
    assert headers["x-amzn-RequestId"]
    if code == "ModelError":
        assert json.loads(body)["OriginalStatusCode"] == status
    if code:
        assert headers["status"] == str(expected_status)


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
