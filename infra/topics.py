"""An SNS topic encrypted with its own customer-managed KMS key, usable by the AWS service that publishes to it.

The AWS-managed key ``alias/aws/sns`` cannot be used here: its key policy is fixed
and grants CloudWatch (alarm actions) and EventBridge (rule targets) nothing, so
their publishes would fail and no e-mail would ever arrive. See
:func:`infra.policies.topic_key_policy`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra import policies


def encrypted_topic(
    name: str, parent: pulumi.Resource, account_id: Any, partition: Any, publisher: str, source_arn: Any
) -> tuple[aws.kms.Key, aws.sns.Topic]:
    """``(key, topic)``: the topic is encrypted with ``key``, whose policy lets ``publisher`` (a service
    principal such as ``cloudwatch.amazonaws.com``) encrypt for it when acting for ``source_arn`` (ArnLike)."""
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        f"{name}-key",
        description=f"Encrypts the SNS topic {name}; usable by {publisher}",
        enable_key_rotation=True,
        deletion_window_in_days=7,
        policy=pulumi.Output.json_dumps(policies.topic_key_policy(account_id, partition, publisher, source_arn)),
        opts=child,
    )
    topic = aws.sns.Topic(name, kms_master_key_id=key.arn, opts=child)
    return key, topic
