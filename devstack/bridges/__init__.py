"""Bridges over moto's gaps, so the deployed wiring runs as it would on AWS.

One module per gap, each naming the gap it closes and the moto versions it was
checked against (``TESTED_MOTO``; moto is pinned in constraints.txt): a bridge
refuses any other version with :class:`UntestedMoto` rather than patch code it
has not read. :func:`install` applies them all, inside the moto server's own
process (``devstack.moto_process``), which then switches on moto's interpreter
and its Docker-free Lambda through moto's public ``/moto-api/config``.

- :mod:`~devstack.bridges.rule_targets`: EventBridge rules start Step Functions executions and send S3 events to queues in AWS's shape.
- :mod:`~devstack.bridges.sync_execution`: ``StartSyncExecution`` runs an Express workflow to its end.
- :mod:`~devstack.bridges.sqs_event_source`: SQS event source mappings polled as Lambda does, ``MaximumConcurrency`` at once.
- :mod:`~devstack.bridges.sdk_integration`: ``aws-sdk:sagemakerruntime`` in the interpreter.
- :mod:`~devstack.bridges.invoke_endpoint`: InvokeEndpoint answered by the local endpoint (``devstack.endpoints``).
- :mod:`~devstack.bridges.lambda_invoke`: Lambda runs its deployed code (``devstack.lambda_workers``).
- :mod:`~devstack.bridges.bucket_policy`: the TLS-only bucket policy evaluated with the request's context.
- :mod:`~devstack.bridges.s3_not_found`: a missing key is 403 to a role without ``s3:ListBucket``, 404 to one with it.
- :mod:`~devstack.bridges.execution_logs`: each execution's history written to its log group, as Step Functions logs it.
- :mod:`~devstack.bridges.dynamodb_atomic`: conditional writes and transactions atomic under concurrent requests.
- :mod:`~devstack.bridges.dynamodb_faults`: a test switch, not a gap: PutItem throttling on demand.
"""

from __future__ import annotations

from devstack.bridges import (
    bucket_policy,
    dynamodb_atomic,
    dynamodb_faults,
    execution_logs,
    invoke_endpoint,
    lambda_invoke,
    rule_targets,
    s3_not_found,
    sdk_integration,
    sqs_event_source,
    sync_execution,
)
from devstack.bridges._support import SETTINGS_ENV, STATE_DIR_ENV, UntestedMoto, bridge_settings

BRIDGES = (
    rule_targets, sync_execution, sqs_event_source, sdk_integration, invoke_endpoint, lambda_invoke, bucket_policy, s3_not_found, execution_logs,
    dynamodb_atomic, dynamodb_faults,
)
#: moto's configuration the bridges need, set through ``POST /moto-api/config`` once the server is up.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

__all__ = ["BRIDGES", "MOTO_CONFIG", "SETTINGS_ENV", "STATE_DIR_ENV", "UntestedMoto", "bridge_settings", "install"]


def install() -> None:
    """Apply every bridge (call before serving)."""
    for bridge in BRIDGES:
        bridge.install()
