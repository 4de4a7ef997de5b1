"""Step Functions' execution logs: each execution's history written to the state machine's log group.

Gap (moto 5.2.5): the interpreter keeps an execution's history in memory (it
answers ``GetExecutionHistory``) but writes no log events, whatever the state
machine's logging configuration says (``StepFunctionsParserBackend.start_execution``
passes no CloudWatch logging session). On AWS an Express workflow's history
exists only in those log events, and ``devstack.executions`` reads them there.

Bridge: when an execution starts, its ``ExecutionStarted`` event is written;
when it ends, the rest of its history. Each event goes to the log group of the
state machine's logging configuration (level ``ALL``; with
``includeExecutionData`` false, inputs and outputs are left out as AWS does), in
the log event format of AWS's "Using CloudWatch Logs to log execution history in
Step Functions" page: ``id``, ``type``, ``details`` (the event's
``...EventDetails``), ``previous_event_id``, ``event_timestamp`` (epoch
milliseconds, a string), ``execution_arn``, ``redrive_count``; into a stream
named ``states/<state machine>/<yyyy-mm-dd-HH-MM>/00000000`` as AWS names them.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from typing import Any

from devstack.bridges._support import is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
LOG = logging.getLogger(__name__)
_LOCK = threading.Lock()
#: Execution data AWS leaves out when includeExecutionData is false.
DATA_FIELDS = ("input", "output", "inputDetails", "outputDetails", "parameters")


def _millis(value: Any) -> int:
    """Epoch milliseconds of a history timestamp (a datetime, epoch seconds, or ISO 8601 text as moto keeps it)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


def log_event(event: dict[str, Any], execution_arn: str, include_execution_data: bool = True) -> dict[str, Any]:
    """One history event (as GetExecutionHistory returns it) in Step Functions' log event format."""
    details: dict[str, Any] = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            details = dict(value)
    if not include_execution_data:
        details = {k: v for k, v in details.items() if k not in DATA_FIELDS}
    return {
        "id": str(event["id"]),
        "type": str(getattr(event["type"], "value", event["type"])),
        "details": details,
        "previous_event_id": str(event.get("previousEventId", 0)),
        "event_timestamp": str(_millis(event["timestamp"])),
        "execution_arn": execution_arn,
        "redrive_count": "0",
    }


def stream_name(state_machine_name: str, when: datetime.datetime) -> str:
    return f"states/{state_machine_name}/{when:%Y-%m-%d-%H-%M}/00000000"


def _destination(execution) -> tuple[str, bool] | None:
    config = getattr(execution.state_machine, "loggingConfiguration", None) or {}
    if config.get("level") != "ALL" or not config.get("destinations"):
        return None  # ERROR/FATAL levels would log a subset; this stack logs ALL
    arn = config["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"]
    return arn.split(":log-group:", 1)[1].split(":", 1)[0], bool(config.get("includeExecutionData"))


def write(execution, events: list[dict[str, Any]]) -> None:
    """Append ``events`` (history events) to the execution's log group, if its state machine logs."""
    destination = _destination(execution)
    if destination is None or not events:
        return
    from moto.logs.models import logs_backends

    group, include_data = destination
    backend = logs_backends[execution.account_id][execution.region_name]
    records = [log_event(e, execution.exec_arn, include_data) for e in events]
    with _LOCK:
        stream = stream_name(execution.state_machine.name, datetime.datetime.now(datetime.timezone.utc))
        if group not in backend.groups:
            LOG.warning("log group %s does not exist: %d execution log events dropped", group, len(records))
            return
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(
            group, stream, [{"timestamp": int(r["event_timestamp"]), "message": json.dumps(r, default=str)} for r in records]
        )


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

    original_start = Execution.start
    if is_installed(original_start, __name__):
        return
    original_terminated = BaseExecutionWorkerCommunication.terminated

    def start(self) -> None:
        # The first event is logged as the execution starts, so a listing sees it running (and before
        # the worker runs: a synchronous execution runs to its end inside start()).
        started = {
            "id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": self.start_date,
            "executionStartedEventDetails": {
                "input": self.input_data if isinstance(self.input_data, str) else json.dumps(self.input_data),
                "inputDetails": {"truncated": False},
                "roleArn": self.role_arn,
            },
        }
        try:
            write(self, [started])
        except Exception:  # logging must never break an execution (AWS: best effort)
            LOG.exception("could not log the start of %s", self.exec_arn)
        original_start(self)

    def terminated(self) -> None:
        original_terminated(self)
        execution = self.execution
        try:
            history = execution.to_history_output()["events"]
            write(execution, [e for e in history if getattr(e["type"], "value", e["type"]) != "ExecutionStarted"])
        except Exception:
            LOG.exception("could not log the history of %s", execution.exec_arn)

    Execution.start = mark(start, __name__, original_start)
    BaseExecutionWorkerCommunication.terminated = mark(terminated, __name__, original_terminated)
