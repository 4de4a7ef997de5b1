"""IAM: policy documents (one builder per need, each statement exact) and the service-role helper.

Documents hold ``pulumi.Output`` values and are serialised with
``pulumi.Output.json_dumps``. Where AWS offers no resource-level permission,
the action is listed in :data:`WILDCARD_RESOURCE_ACTIONS` with the reason, and
only those actions may use ``"Resource": "*"`` (a test checks it).
"""

from __future__ import annotations

from typing import Any, Sequence

WILDCARD_RESOURCE_ACTIONS: dict[str, str] = {
    # X-Ray has no resource-level permissions for writing traces or reading sampling rules.
    "xray:PutTraceSegments": "X-Ray supports no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray supports no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray supports no resource-level permissions",
    "xray:GetSamplingTargets": "X-Ray supports no resource-level permissions",
    # Step Functions' logging to CloudWatch Logs uses vended log delivery, whose
    # actions AWS documents with "Resource": "*".
    "logs:CreateLogDelivery": "CloudWatch Logs vended delivery requires *",
    "logs:GetLogDelivery": "CloudWatch Logs vended delivery requires *",
    "logs:UpdateLogDelivery": "CloudWatch Logs vended delivery requires *",
    "logs:DeleteLogDelivery": "CloudWatch Logs vended delivery requires *",
    "logs:ListLogDeliveries": "CloudWatch Logs vended delivery requires *",
    "logs:PutResourcePolicy": "CloudWatch Logs vended delivery requires *",
    "logs:DescribeResourcePolicies": "CloudWatch Logs vended delivery requires *",
    "logs:DescribeLogGroups": "CloudWatch Logs vended delivery requires *",
    # ECR's authorisation token is account-wide; image pulls are scoped to the repository.
    "ecr:GetAuthorizationToken": "ECR authorisation tokens are not resource-scoped",
    # CloudWatch metrics have no ARN; the statement is limited by a namespace condition.
    "cloudwatch:PutMetricData": "CloudWatch metrics have no resource ARN (namespace condition applies)",
}

TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]


def statement(sid: str, actions: Sequence[str], resources: Sequence[Any], condition: dict | None = None, effect: str = "Allow") -> dict:
    for action in actions:
        if "*" in action:
            raise ValueError(f"{sid}: wildcard action {action!r}; name the exact actions")
    body: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": list(actions), "Resource": list(resources)}
    if condition:
        body["Condition"] = condition
    return body


def document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str, account_id: Any) -> dict:
    """Trust policy for one AWS service principal, limited to this account (confused-deputy guard)."""
    return document(
        {
            "Sid": "AssumedBy" + service.split(".")[0].capitalize(),
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def tracing() -> dict:
    return statement("XRayTracing", TRACING_ACTIONS, ["*"])


def deny_insecure_transport(bucket_arn: Any) -> dict:
    """Bucket policy: refuse every request that is not over TLS (a Deny, so ``s3:*`` is right here)."""
    import pulumi

    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def allow_service_from(sid: str, service: str, action: str, resource: Any, source_arn: Any) -> dict:
    """Resource policy: let an AWS service principal act on ``resource``, only on behalf of ``source_arn``."""
    return document(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": [action],
            "Resource": [resource],
            "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
        }
    )


def service_role(resource_name: str, role_name: str, service: str, account_id: Any, parent, policy: dict) -> tuple:
    """An IAM role that only ``service`` (in this account) can assume, with its one inline policy.

    Returns ``(role, role_policy)``; the policy resource is named like the role with
    ``-policy`` for ``-role``, so that resources can depend on the permissions being in place.
    """
    import pulumi
    import pulumi_aws as aws

    role = aws.iam.Role(
        resource_name,
        name=role_name,
        assume_role_policy=pulumi.Output.json_dumps(assume_role(service, account_id)),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    role_policy = aws.iam.RolePolicy(
        resource_name[: -len("-role")] + "-policy" if resource_name.endswith("-role") else resource_name + "-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps(policy),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role, role_policy
