"""Physical names derived from project and stack, so stacks never collide in one account."""

from __future__ import annotations

import hashlib
import re

# AWS's length limits for the names we set explicitly.
LIMITS = {
    "s3_bucket": 63,
    "lambda_function": 64,
    "iam_role": 64,
    "state_machine": 80,
    "sagemaker_endpoint": 63,
    "dynamodb_table": 255,
    "sqs_queue": 80,
    "log_group": 512,
    "default": 63,
}


def physical_name(project: str, stack: str, role: str, kind: str = "default", suffix: str = "") -> str:
    """``<project>-<stack>-<role>[-<suffix>]``, lower-case, shortened with a stable hash if too long."""
    raw = "-".join(p for p in (project, stack, role, suffix) if p)
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    limit = LIMITS.get(kind, LIMITS["default"])
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: limit - 9].rstrip("-") + "-" + digest
