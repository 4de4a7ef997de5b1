"""Executions and their state-by-state history, read from the state machine's CloudWatch Logs log group.

Step Functions keeps no history of Express executions: ``DescribeExecution``,
``GetExecutionHistory`` and ``ListExecutions`` do not support them. Their history
exists only as the log events that logging level ``ALL`` with execution data
writes to the state machine's log group, one JSON event per history event, in
the format of AWS's "Using CloudWatch Logs to log execution history in Step
Functions" page (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)::

    {"id": "1", "type": "ExecutionStarted", "details": {"input": "...", "inputDetails": {...}, "roleArn": "..."},
     "previous_event_id": "0", "event_timestamp": "1579811087013", "execution_arn": "arn:aws:states:...",
     "redrive_count": "0"}

This module reads them, on AWS and locally alike (locally
``devstack.bridges.execution_logs`` writes the same events into moto's CloudWatch
Logs, since moto's interpreter writes none). Small typed API:

- :func:`log_group_of`: the log group a state machine logs to (``DescribeStateMachine``).
- :func:`list_executions`: :class:`ExecutionSummary` per execution (status, start, duration, error).
- :func:`execution_steps`: one execution's :class:`Step` list (input, output, attempts, errors, cause).
- :func:`parse_log_events`: the same from log events already fetched (no AWS call).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

#: Event types that end an execution, and the status each means.
END_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


@dataclass(frozen=True)
class LogEvent:
    """One history event as Step Functions logs it."""

    id: int
    previous_event_id: int
    type: str
    timestamp: datetime.datetime
    execution_arn: str
    details: dict[str, Any]

    @classmethod
    def from_message(cls, message: str) -> "LogEvent":
        body = json.loads(message)
        return cls(
            id=int(body["id"]),
            previous_event_id=int(body.get("previous_event_id") or 0),
            type=body["type"],
            timestamp=datetime.datetime.fromtimestamp(int(body["event_timestamp"]) / 1000, datetime.timezone.utc),
            execution_arn=body["execution_arn"],
            details=body.get("details") or {},
        )


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution as the listing shows it."""

    execution_arn: str
    name: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    start: datetime.datetime
    stop: datetime.datetime | None = None
    error: str | None = None
    cause: str | None = None
    input: str | None = None
    output: str | None = None

    @property
    def duration_s(self) -> float | None:
        return (self.stop - self.start).total_seconds() if self.stop else None


@dataclass
class Step:
    """One state of one execution: when it was entered, how long it took, its attempts and errors."""

    state: str
    entered_s: float
    duration_s: float = 0.0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    outcome: str = "entered"
    input: str | None = None
    output: str | None = None
    #: The last error and cause seen in the state (a failed attempt, or the state's failure).
    error: str | None = None
    cause: str | None = None


def execution_name(execution_arn: str) -> str:
    """The name part of a Standard (``...:execution:SM:name``) or Express (``...:express:SM:name:id``) ARN."""
    parts = execution_arn.split(":")
    return parts[7] if len(parts) > 7 and parts[5] in ("execution", "express") else parts[-1]


def _summaries(events: Iterable[LogEvent]) -> dict[str, ExecutionSummary]:
    by_arn: dict[str, list[LogEvent]] = {}
    for event in events:
        by_arn.setdefault(event.execution_arn, []).append(event)
    found = {}
    for arn, history in by_arn.items():
        history.sort(key=lambda e: e.id)
        started = next((e for e in history if e.type == "ExecutionStarted"), history[0])
        ended = next((e for e in history if e.type in END_EVENTS), None)
        found[arn] = ExecutionSummary(
            execution_arn=arn,
            name=execution_name(arn),
            status=END_EVENTS[ended.type] if ended else "RUNNING",
            start=started.timestamp,
            stop=ended.timestamp if ended else None,
            error=(ended.details.get("error") if ended else None),
            cause=(ended.details.get("cause") if ended else None),
            input=started.details.get("input"),
            output=(ended.details.get("output") if ended else None),
        )
    return found


def parse_log_events(messages: Iterable[str]) -> list[LogEvent]:
    """Log event messages (JSON strings) as :class:`LogEvent`; anything else in the group is skipped."""
    events = []
    for message in messages:
        try:
            events.append(LogEvent.from_message(message))
        except (ValueError, KeyError, TypeError):
            continue  # e.g. the log-delivery validation stream's markers
    return events


def steps_of(history: Iterable[LogEvent]) -> list[Step]:
    """The states an execution went through, from its history events in id order."""
    history = sorted(history, key=lambda e: e.id)
    if not history:
        return []
    start = history[0].timestamp
    steps: list[Step] = []
    current: Step | None = None
    entered = start
    for event in history:
        kind, details = event.type, event.details
        if kind.endswith("StateEntered"):
            entered = event.timestamp
            current = Step(details.get("name", "?"), (entered - start).total_seconds(), input=details.get("input"))
            if kind == "FailStateEntered":
                current.outcome = "failed"
        elif current and kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            current.attempts += 1
        elif current and kind in ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
                                  "LambdaFunctionFailed", "LambdaFunctionTimedOut"):
            error = details.get("error") or ("States.Timeout" if kind.endswith("TimedOut") else kind)
            current.errors.append(error)
            current.error, current.cause = error, details.get("cause")
        elif current and kind.endswith("StateExited"):
            current.duration_s = (event.timestamp - entered).total_seconds()
            current.output = details.get("output")
            if current.outcome == "entered":
                current.outcome = "ok"
            steps.append(current)
            current = None
        elif kind in END_EVENTS:
            if current:
                current.duration_s = (event.timestamp - entered).total_seconds()
                current.outcome = kind
                current.error = details.get("error") or current.error
                current.cause = details.get("cause") or current.cause
                steps.append(current)
                current = None
    if current:
        steps.append(current)
    return steps


# --- reading the log group ----------------------------------------------------------------------------


def log_group_of(stepfunctions_client, state_machine_arn: str) -> str:
    """The name of the log group the state machine's logging configuration names."""
    config = stepfunctions_client.describe_state_machine(stateMachineArn=state_machine_arn).get("loggingConfiguration") or {}
    destinations = config.get("destinations") or []
    if not destinations:
        raise ValueError(f"{state_machine_arn} has no log destination: Express executions leave no history without one")
    arn = destinations[0]["cloudWatchLogsLogGroup"]["logGroupArn"]
    return arn.split(":log-group:", 1)[1].split(":", 1)[0]


def fetch_log_events(logs_client, log_group: str, since: datetime.datetime | None = None, filter_pattern: str | None = None) -> list[LogEvent]:
    """Every execution log event of ``log_group`` (from ``since`` on), all pages."""
    kwargs: dict[str, Any] = {"logGroupName": log_group}
    if since is not None:
        kwargs["startTime"] = int(since.timestamp() * 1000)
    if filter_pattern:
        kwargs["filterPattern"] = filter_pattern
    messages = []
    for page in logs_client.get_paginator("filter_log_events").paginate(**kwargs):
        messages.extend(event["message"] for event in page.get("events", []))
    return parse_log_events(messages)


def list_executions(logs_client, log_group: str, since: datetime.datetime | None = None) -> list[ExecutionSummary]:
    """Executions that logged anything (from ``since`` on), oldest first."""
    return sorted(_summaries(fetch_log_events(logs_client, log_group, since)).values(), key=lambda e: e.start)


def execution_steps(logs_client, log_group: str, execution_arn: str, local: bool = False) -> tuple[ExecutionSummary, list[Step]]:
    """One execution's summary and steps.

    On AWS the log group is filtered server-side with a JSON filter pattern on
    ``execution_arn``; ``local=True`` filters here (moto's filter patterns are partial).
    """
    pattern = None if local else f'{{ $.execution_arn = "{execution_arn}" }}'
    history = [e for e in fetch_log_events(logs_client, log_group, filter_pattern=pattern) if e.execution_arn == execution_arn]
    if not history:
        raise LookupError(f"no log events for {execution_arn} in {log_group} (logs arrive within seconds of each event)")
    return _summaries(history)[execution_arn], steps_of(history)
