"""The IAM permissions a definition needs, derived from the definition itself.

Each Task state's ``Resource`` names a service integration; the table below
says which IAM action that integration calls and which parameter names the
resource it acts on. The Pulumi program turns the result into the state
machine role's policy, so adding a Task to the builder adds its permission
here, and a Task whose integration is not in the table fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

#: integration resource (in the ``aws`` partition; others are read as their ``aws`` equivalent)
#: -> (IAM action, parameter naming the resource, resource kind)
INTEGRATIONS: dict[str, tuple[str, str, str]] = {
    "arn:aws:states:::lambda:invoke": ("lambda:InvokeFunction", "FunctionName", "lambda_function"),
    "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint": (
        "sagemaker:InvokeEndpoint",
        "EndpointName",
        "sagemaker_endpoint",
    ),
    "arn:aws:states:::dynamodb:putItem": ("dynamodb:PutItem", "TableName", "dynamodb_table"),
    "arn:aws:states:::sqs:sendMessage": ("sqs:SendMessage", "QueueUrl", "sqs_queue"),
    "arn:aws:states:::events:putEvents": ("events:PutEvents", "Entries.0.EventBusName", "event_bus"),
}


@dataclass(frozen=True)
class Permission:
    """One action on one resource, named as the definition names it."""

    action: str
    resource_kind: str
    #: The value of the naming parameter in the definition (a name, ARN or URL).
    resource_ref: str
    state: str


def _lookup(parameters: dict[str, Any], dotted: str) -> Any:
    value: Any = parameters
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):  # Parallel
            yield from _task_states(branch["States"])
        if "Iterator" in state:  # Map (legacy field name)
            yield from _task_states(state["Iterator"]["States"])
        if "ItemProcessor" in state:
            yield from _task_states(state["ItemProcessor"]["States"])


def required_permissions(definition: dict[str, Any]) -> list[Permission]:
    """Every (action, resource) the definition's Task states call, in state order."""
    permissions: list[Permission] = []
    for name, state in _task_states(definition["States"]):
        resource = re.sub(r"^arn:[a-z-]+:states:::", "arn:aws:states:::", state["Resource"])
        if resource not in INTEGRATIONS:
            known = ", ".join(sorted(INTEGRATIONS))
            raise ValueError(f"State {name!r} calls {resource!r}, which has no IAM mapping; known: {known}")
        action, parameter, kind = INTEGRATIONS[resource]
        ref = _lookup(state["Parameters"], parameter)
        permission = Permission(action=action, resource_kind=kind, resource_ref=ref, state=name)
        if permission not in permissions:
            permissions.append(permission)
    return permissions
