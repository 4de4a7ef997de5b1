"""Bucket policies evaluated with the request's context (the TLS-only policy).

The gap (moto 5.2.5): moto evaluates a bucket policy without the request's
context and treats a statement whose condition does not hold as a denial, and
its ``Bool`` operator holds for any value; so the TLS-only policy (``Deny``
when ``aws:SecureTransport`` is ``false``) denies every request. Requests to
the local stack stand for the SDK's HTTPS requests on AWS, so they are
evaluated with ``aws:SecureTransport`` = ``true``: a statement applies only
when its ``Bool`` conditions hold, and moto's own evaluation then runs on the
applicable statements (on a copy of the bucket: the stored policy is untouched).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from devstack.bridges._support import is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
#: What a request to the local stack stands for: an SDK request over HTTPS.
LOCAL_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def statement_applies(statement: dict[str, Any], context: dict[str, str] = LOCAL_REQUEST_CONTEXT) -> bool:
    """Whether the statement's ``Bool`` conditions hold for ``context`` (other operators: as moto decides)."""
    for operator, pairs in (statement.get("Condition") or {}).items():
        if operator == "Bool":
            for key, expected in pairs.items():
                if str(context.get(key, "")).lower() != str(expected).lower():
                    return False
    return True


def applicable_policy(policy: dict[str, Any], context: dict[str, str] = LOCAL_REQUEST_CONTEXT) -> dict[str, Any]:
    """``policy`` with only the statements that apply, their decided ``Bool`` conditions removed."""
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    applicable = [
        {k: v for k, v in statement.items() if not (k == "Condition" and set(v) == {"Bool"})}
        for statement in statements
        if statement_applies(statement, context)
    ]
    return {**policy, "Statement": applicable}


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission
    if is_installed(original, __name__):
        return

    def get_permission(self, *args, **kwargs):
        if self.policy is None:
            return original(self, *args, **kwargs)
        policy = applicable_policy(json.loads(self.policy))
        if not policy["Statement"]:
            return PermissionResult.NEUTRAL
        view = copy.copy(self)
        view.policy = json.dumps(policy).encode("utf-8")
        return original(view, *args, **kwargs)

    FakeBucket.get_permission = mark(get_permission, __name__, original)
