"""Each role can do what its code needs, and nothing more: the needs are read off the code.

- the state machine's: from the definition (``state_machine.permissions``);
- the Lambda's and the endpoint's S3 needs: from the boto3 calls in their code (``ast``);
- the EventBridge target's: StartExecution on the state machine.
"""

import ast
import json
import os

import pytest

from infra.program_runner import run_program
from tests.pulumi_mocks import RecordingMocks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: boto3 S3 client methods -> the IAM action each needs (HEAD and ranged GET are s3:GetObject).
S3_CALL_ACTIONS = {
    "head_object": "s3:GetObject",
    "get_object": "s3:GetObject",
    "download_file": "s3:GetObject",
    "download_fileobj": "s3:GetObject",
    "put_object": "s3:PutObject",
    "upload_file": "s3:PutObject",
    "delete_object": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",
}


def s3_actions_used_by(package: str) -> set[str]:
    used = set()
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if name.endswith(".py"):
                tree = ast.parse(open(os.path.join(folder, name)).read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in S3_CALL_ACTIONS:
                        used.add(S3_CALL_ACTIONS[node.func.attr])
    return used


@pytest.fixture(scope="module")
def policies(model_dir):
    mocks = RecordingMocks()
    run_program(mocks, "dev", {"liveSourceVideo": os.path.join(ROOT, "videos", "README.md"), "modelDir": model_dir})
    by_role = {}
    for declared in mocks.of_type("aws:iam/rolePolicy:RolePolicy"):
        by_role[declared.inputs["role"]] = json.loads(declared.inputs["policy"])["Statement"]
    return by_role


def granted(statements, service: str) -> dict[str, set[str]]:
    actions: dict[str, set[str]] = {}
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        for action in statement["Action"]:
            if action.startswith(service + ":"):
                actions.setdefault(action, set()).update(statement["Resource"])
    return actions


def test_the_ast_scan_finds_calls():
    assert s3_actions_used_by("lambdas/validate_segment") == {"s3:GetObject"}
    assert s3_actions_used_by("lambdas/episodes") == {"s3:GetObject", "s3:PutObject"}
    assert s3_actions_used_by("inference") == {"s3:GetObject"}


#: s3:ListBucket is granted although no code lists: without it S3 answers a missing key with 403,
#: not 404 (S3 API reference, GetObject), and the readers tell a missing segment by its 404.
#: It is limited to listings under the stream prefix (checked in test_infra).
NOT_FOUND_NEEDS = {"s3:ListBucket"}


def test_lambda_role_has_exactly_the_s3_actions_its_code_calls(policies):
    s3 = granted(policies["activity-detection-dev-lambda"], "s3")
    assert set(s3) == s3_actions_used_by("lambdas/validate_segment") | NOT_FOUND_NEEDS
    assert s3["s3:GetObject"] == {"arn:aws:s3:::activity-detection-dev-livestream-123456789012-us-east-1/live/*"}


def test_endpoint_role_reads_segments_under_the_prefix_and_its_model_only(policies):
    s3 = granted(policies["activity-detection-dev-sagemaker"], "s3")
    assert set(s3) == s3_actions_used_by("inference") | NOT_FOUND_NEEDS
    assert s3["s3:GetObject"] == {
        "arn:aws:s3:::activity-detection-dev-livestream-123456789012-us-east-1/live/*",
        "arn:aws:s3:::activity-detection-dev-artifacts-123456789012-us-east-1/model/*",
    }


def test_events_role_only_starts_the_workflow(policies):
    (statement,) = policies["activity-detection-dev-events"]
    assert statement["Action"] == ["states:StartExecution"]
    assert statement["Resource"] == ["arn:aws:states:us-east-1:123456789012:stateMachine:activity-detection-dev-workflow"]


def test_episodes_role_reads_segments_and_writes_evidence_only(policies):
    s3 = granted(policies["activity-detection-dev-episodes"], "s3")
    assert set(s3) == s3_actions_used_by("lambdas/episodes")
    bucket = "arn:aws:s3:::activity-detection-dev-livestream-123456789012-us-east-1"
    assert s3 == {"s3:GetObject": {f"{bucket}/live/*"}, "s3:PutObject": {f"{bucket}/evidence/*"}}


def test_no_role_can_write_to_the_livestream_bucket_except_medialive(policies):
    for role, statements in policies.items():
        writes = {a for a in granted(statements, "s3") if a in ("s3:PutObject", "s3:DeleteObject")}
        if role.endswith("-medialive"):
            assert writes == {"s3:PutObject", "s3:DeleteObject"}
        elif role.endswith("-episodes"):  # snapshots and clips, under the evidence prefix only (test above)
            assert writes == {"s3:PutObject"}
        else:
            assert not writes, role
