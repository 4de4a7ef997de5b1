"""What the CLI reports as one line (what is wrong and what to do), never as a traceback."""

from __future__ import annotations


class DevstackError(Exception):
    """A mistake or a missing precondition the user can fix; the message says how."""


class NoLocalStack(DevstackError):
    """No local stack is running where the command looked for one."""


class StackAlreadyRunning(DevstackError):
    """Another ``up`` or ``demo`` holds the state directory."""
