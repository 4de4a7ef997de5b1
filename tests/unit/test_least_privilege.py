"""Each role can do what its code needs, and nothing more: the needs are read off the code.

- the state machine's: from the definition (``state_machine.permissions``);
- the Lambda's and the endpoint's S3 needs: from the boto3 calls in their code (``ast``);
- the intake's starter: from the boto3 calls in its code, plus what its event source mapping needs.
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


#: boto3 calls of the starter -> the IAM action each needs.
STARTER_CALL_ACTIONS = {
    "start_sync_execution": "states:StartSyncExecution",
    "change_message_visibility": "sqs:ChangeMessageVisibility",
    "send_message": "sqs:SendMessage",
}
#: What Lambda's event source mapping itself calls with the function's role (Lambda developer guide,
#: "Using Lambda with Amazon SQS", execution role permissions).
EVENT_SOURCE_MAPPING_NEEDS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


def calls_in(package: str, known: dict[str, str]) -> set[str]:
    used = set()
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if name.endswith(".py"):
                for node in ast.walk(ast.parse(open(os.path.join(folder, name)).read())):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in known:
                        used.add(known[node.func.attr])
    return used


def test_the_starter_can_run_the_workflow_and_move_its_messages_only(policies):
    statements = policies["activity-detection-dev-intake"]
    needed = calls_in("lambdas/start_workflow", STARTER_CALL_ACTIONS) | EVENT_SOURCE_MAPPING_NEEDS
    assert set(granted(statements, "sqs")) | set(granted(statements, "states")) == needed
    account = "arn:aws:sqs:us-east-1:123456789012"
    assert granted(statements, "states") == {
        "states:StartSyncExecution": {"arn:aws:states:us-east-1:123456789012:stateMachine:activity-detection-dev-workflow"}
    }
    sqs = granted(statements, "sqs")
    assert sqs.pop("sqs:SendMessage") == {f"{account}:activity-detection-dev-events-dlq"}  # giving up, with the reason
    assert all(resources == {f"{account}:activity-detection-dev-intake"} for resources in sqs.values())


def test_no_role_can_start_a_workflow_but_the_starter(policies):
    for role, statements in policies.items():
        if role != "activity-detection-dev-intake":
            assert not granted(statements, "states"), role


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
