"""The stack's DynamoDB tables share one setup: on demand, point-in-time recovery, encrypted at rest."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws


def on_demand_table(
    resource_name: str,
    name: str,
    key: tuple[str, str],
    attributes: dict[str, str],
    opts: pulumi.ResourceOptions,
    **extra: Any,
) -> aws.dynamodb.Table:
    """A pay-per-request table keyed ``key`` (partition, sort); ``attributes``: name -> DynamoDB type (S, N)."""
    return aws.dynamodb.Table(
        resource_name,
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=key[0],
        range_key=key[1],
        attributes=[{"name": attribute, "type": kind} for attribute, kind in attributes.items()],
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True},
        opts=opts,
        **extra,
    )
