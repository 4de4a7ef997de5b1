"""The workflow's state machine: its definition and the permissions it needs."""

from state_machine.definition import (  # noqa: F401
    WorkflowTargets,
    WorkflowTuning,
    build_definition,
)
