"""The bridges' own logic, without a server."""

import json

import pytest

from devstack import bridges


def test_s3_event_reshaped_as_aws_sends_it():
    moto_event = {
        "version": "0", "id": "fixed", "detail-type": "Object Created", "source": "aws.s3", "time": 1790000000.5,
        "detail": {"bucket": {"name": "b"}, "object": {"key": "live/a b/seg_1.ts", "size": 1, "eTag": "abc", "version-id": "null"}},
    }
    shaped = bridges.aws_shaped_s3_event(moto_event)
    assert shaped["time"] == "2026-09-21T14:13:20Z"
    assert shaped["detail"]["object"] == {"key": "live/a b/seg_1.ts", "size": 1, "etag": "abc"}
    assert shaped["id"] != "fixed"
    assert moto_event["detail"]["object"]["eTag"] == "abc"  # the original is left alone


@pytest.mark.parametrize(
    "status,expected_status,code",
    [(200, 200, None), (429, 400, "ThrottlingException"), (503, 503, "ServiceUnavailable"),
     (400, 424, "ModelError"), (500, 424, "ModelError")],
)
def test_container_replies_map_to_sagemaker_runtime_errors(status, expected_status, code):
    got_status, headers, body = bridges.map_container_reply(status, '{"error": "x"}', "ep")
    assert got_status == expected_status
    assert headers.get("x-amzn-ErrorType") == code
    assert headers["x-amzn-RequestId"]
    if code == "ModelError":
        assert json.loads(body)["OriginalStatusCode"] == status
    if code:
        assert headers["status"] == str(expected_status)


def test_tls_only_deny_applies_only_to_plain_http():
    deny = {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert bridges.statement_applies(deny, {"aws:SecureTransport": "true"}) is False
    assert bridges.statement_applies(deny, {"aws:SecureTransport": "false"}) is True
    assert bridges.statement_applies({"Effect": "Allow"}) is True


def test_settings_file_switches_error_naming(tmp_path, monkeypatch):
    path = tmp_path / "bridges.json"
    monkeypatch.setenv(bridges.SETTINGS_ENV, str(path))
    assert bridges.bridge_settings()["sdk_error_naming"] == "sdk"
    path.write_text(json.dumps({"sdk_error_naming": "code"}))
    assert bridges.bridge_settings()["sdk_error_naming"] == "code"
