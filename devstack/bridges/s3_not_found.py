"""A missing key is 403 for a caller without ``s3:ListBucket``, as on AWS.

Gap (moto 5.2.5): moto answers GetObject/HeadObject on a missing key with 404
whoever asks. S3 answers 404 only to a caller allowed ``s3:ListBucket`` on the
bucket, and 403 AccessDenied to anyone else (S3 API reference, GetObject and
HeadObject: "If you don't have the s3:ListBucket permission, Amazon S3 returns
an HTTP status code 403"). Without this, a role that lacks the permission
would look fine locally and report denials instead of missing segments on AWS.

Bridge: for a request signed with an assumed role's credentials (moto STS), the
role's policies are evaluated for ``s3:ListBucket`` on the bucket with the
request's key as ``s3:prefix`` (the listing S3 stands the request for); without
an Allow (or with a Deny) the missing key is a 403. Requests signed with the
local stack's own credentials ("testing", an account root) are unchanged.
Conditions understood: ``StringLike`` and ``StringEquals`` on ``s3:prefix``; a
statement with any other condition is not counted as an Allow.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any, Iterable

from devstack.bridges._support import is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
LIST = "s3:ListBucket"


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    for operator, pairs in (condition or {}).items():
        for key, expected in pairs.items():
            actual = context.get(key)
            if actual is None:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(actual, p) for p in _as_list(expected)):
                return False
            if operator == "StringEquals" and actual not in _as_list(expected):
                return False
            if operator not in ("StringLike", "StringEquals"):
                return False
    return True


def may_list(documents: Iterable[dict[str, Any]], bucket: str, prefix: str, partition: str = "aws") -> bool:
    """Whether these identity policies allow ``s3:ListBucket`` on ``bucket`` for a listing of ``prefix``."""
    resource = f"arn:{partition}:s3:::{bucket}"
    context = {"s3:prefix": prefix}
    allowed = False
    for document in documents:
        for statement in _as_list(document.get("Statement", [])):
            actions = _as_list(statement.get("Action", []))
            if not any(fnmatch.fnmatchcase(LIST.lower(), a.lower()) for a in actions):
                continue
            if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement.get("Resource", []))):
                continue
            if not _condition_holds(statement.get("Condition"), context):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _role_documents(headers) -> list[dict[str, Any]] | None:
    """The caller's role policies, or None when the request is not signed by an assumed role."""
    get = headers.get
    token = get("X-Amz-Security-Token") or get("x-amz-security-token")
    match = re.search(r"Credential=([^/]+)/", get("Authorization") or get("authorization") or "")
    if not token or not match:
        return None
    from moto.iam.access_control import AssumedRoleAccessKey
    from moto.sts.models import sts_backends

    for account, backends in sts_backends.items():
        for partition in backends:
            try:
                key = AssumedRoleAccessKey(account, partition, match.group(1), {"X-Amz-Security-Token": token})
            except Exception:
                continue
            documents = []
            for policy in key.collect_policies():
                text = policy if isinstance(policy, str) else policy.default_version.document
                documents.append(json.loads(text) if isinstance(text, str) else text)
            return documents
    return None


def denied(headers, bucket: str, key: str) -> bool:
    documents = _role_documents(headers)
    return documents is not None and not may_list(documents, bucket, key)


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.s3.exceptions import MissingKey, S3AccessDeniedError
    from moto.s3.responses import S3Response

    original_get_key = S3Response._get_key
    if is_installed(original_get_key, __name__):
        return
    original_head = S3Response.head_object

    def _get_key(self, *args, **kwargs):
        try:
            return original_get_key(self, *args, **kwargs)
        except MissingKey:
            if denied(self.headers, self.bucket_name, self.parse_key_name()):
                raise S3AccessDeniedError()
            raise

    def head_object(self, bucket_name, query, key_name, headers):
        status, response_headers, body = original_head(self, bucket_name, query, key_name, headers)
        if status == 404 and "x-amz-delete-marker" not in response_headers and denied(headers, bucket_name, key_name):
            return 403, {}, ""
        return status, response_headers, body

    S3Response._get_key = mark(_get_key, __name__, original_get_key)
    S3Response.head_object = mark(head_object, __name__, original_head)
