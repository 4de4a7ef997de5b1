"""IAM: policy documents (one builder per need, each statement exact) and the service-role helper.

Documents hold ``pulumi.Output`` values and are serialised with
``pulumi.Output.json_dumps``. Where AWS offers no resource-level permission,
the action is listed in :data:`WILDCARD_RESOURCE_ACTIONS` with the reason, and
only those actions may use ``"Resource": "*"`` (a test checks it).
"""

from __future__ import annotations

from typing import Any, Sequence

from contracts.segments import stream_folder

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


#: Services whose documented trust policy carries no ``aws:SourceAccount`` condition.
#:
#: MediaLive: its user guide's trusted-entity pages give the role's trust policy as
#: ``{"Principal": {"Service": "medialive.amazonaws.com"}, "Action": "sts:AssumeRole"}``
#: with no condition, and nowhere say that MediaLive sends ``aws:SourceAccount`` when it
#: assumes the role (https://docs.aws.amazon.com/medialive/latest/ug/about-trusted-entity.html,
#: "Create the trust entity - complex option"). A condition the service does not send
#: would make the channel fail to start, so the documented policy is used as is.
UNCONDITIONED_TRUST: dict[str, str] = {
    "medialive.amazonaws.com": "MediaLive documents its trust policy without aws:SourceAccount",
}

#: What MediaLive's role needs to read an MP4 input from S3 and write an HLS output group to S3,
#: from "Reference: summary of requirements for the MediaLive trusted entity"
#: (https://docs.aws.amazon.com/medialive/latest/ug/trusted-entity-requirements.html), Amazon S3 row:
#: read access ``s3:ListBucket`` + ``s3:GetObject``; write access ``s3:ListBucket`` +
#: ``s3:PutObject`` + ``s3:DeleteObject`` (deleting segments past the playlist window).
#: ``s3:GetBucketLocation`` is not on that list and is not granted; ``s3:PutObjectAcl`` is not
#: needed either: the channel sends no canned ACL (the buckets enforce bucket-owner ownership).
#: Checked again (2026-11-25): the role the MediaLive console's wizard creates from its template
#: ("MediaLiveAccessRole", "Create the trust entity - simple option",
#: https://docs.aws.amazon.com/medialive/latest/ug/setup-trusted-entity-simple.html) grants the same
#: four S3 actions, ``s3:ListBucket``, ``s3:GetObject``, ``s3:PutObject``, ``s3:DeleteObject``, on
#: ``*``; here each is scoped to the objects and prefixes the channel uses (``list_under_prefix``).
MEDIALIVE_S3_READ = ["s3:GetObject"]
MEDIALIVE_S3_WRITE = ["s3:PutObject", "s3:DeleteObject"]


def assume_role(service: str, account_id: Any) -> dict:
    """Trust policy for one AWS service principal, limited to this account (confused-deputy guard)
    unless the service documents otherwise (:data:`UNCONDITIONED_TRUST`)."""
    body: dict[str, Any] = {
        "Sid": "AssumedBy" + service.split(".")[0].capitalize(),
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["sts:AssumeRole"],
    }
    if service not in UNCONDITIONED_TRUST:
        body["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return document(body)


def list_under_prefix(sid: str, bucket_arn: Any, prefix: str) -> dict:
    """``s3:ListBucket`` on a bucket, only for listings under ``prefix``.

    Without ``s3:ListBucket`` S3 answers a request for a missing key with 403
    AccessDenied instead of 404 NoSuchKey (S3 API reference, GetObject/HeadObject:
    "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status
    code 403"), so a reader could not tell a missing segment from a denial.
    """
    folder = stream_folder(prefix)
    return statement(sid, ["s3:ListBucket"], [bucket_arn], condition={"StringLike": {"s3:prefix": [folder + "*", folder.rstrip("/")]}})


def topic_key_policy(account_id: Any, partition: Any, service: str, source_arn: Any) -> dict:
    """Key policy of a customer-managed KMS key for an encrypted SNS topic that ``service`` publishes to.

    Why not ``alias/aws/sns``: an AWS-managed key's policy cannot be changed, and it
    grants nothing to CloudWatch or EventBridge, so their publishes to a topic encrypted
    with it fail (silently: no alarm or alert e-mail arrives). AWS's SNS guide
    ("Configure KMS permissions for AWS services", sns-key-management) says the key
    policy must let the publishing service principal use ``kms:GenerateDataKey*`` and
    ``kms:Decrypt``. The grant is scoped to this account and to the publishing resources
    (``aws:SourceAccount``, ``aws:SourceArn``). The first statement is KMS's default key
    policy (the account administers the key through IAM); without it the key could not
    be managed or deleted.
    """
    import pulumi

    root = pulumi.Output.concat("arn:", partition, ":iam::", account_id, ":root")
    return document(
        {"Sid": "AccountAdministersTheKey", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "PublisherUsesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}, "ArnLike": {"aws:SourceArn": source_arn}},
        },
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
    ``-policy`` for ``-role``. Whatever the service does with the role must declare
    ``depends_on=[role_policy]``: the role's ARN alone lets Pulumi create the resource
    before the permissions exist, and the service's first use of the role (a model
    download, a log write) can then race IAM.
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
