"""Looking at results: a stream's timeline, the dead-letter queue, one execution's trace.

Works against the local stack (``.devstack/stack.json``) or, given the same
keys, a real deployment. Executions and their traces come from the state
machine's CloudWatch Logs log group on both sides (Express workflows have no
ListExecutions or GetExecutionHistory; see ``devstack.executions``).
"""

from __future__ import annotations

import collections
import datetime
import functools
import json
import time
from typing import Any, Callable

import boto3

from contracts import records
from contracts.dead_letters import DeadLetter, UndeliveredEvent
from devstack import executions as executions_log
from devstack.stack import LOCAL_CREDENTIALS


def clients(info: dict[str, Any]) -> dict[str, Any]:
    """boto3 clients for the stack ``info`` describes, created once per region and endpoint (not on every poll).

    The local stack (``endpoint_url`` set) is reached with its own dummy
    credentials, whatever the shell holds; a deployment (``--aws``) with the
    user's usual AWS credentials and region.
    """
    return _clients(info["region"], info.get("endpoint_url"))


@functools.lru_cache(maxsize=16)
def _clients(region: str, endpoint_url: str | None) -> dict[str, Any]:
    kwargs = {"region_name": region}
    if endpoint_url:
        kwargs.update(endpoint_url=endpoint_url, **LOCAL_CREDENTIALS)
    return {name: boto3.client(name, **kwargs) for name in ("s3", "dynamodb", "sqs", "stepfunctions", "logs")}


def timeline(info: dict[str, Any], stream_id: str) -> list[dict[str, Any]]:
    """Every record of a stream, in segment order (one Query on the partition key)."""
    pages = clients(info)["dynamodb"].get_paginator("query").paginate(
        TableName=info["table_name"],
        KeyConditionExpression="#pk = :stream",
        ExpressionAttributeNames={"#pk": records.PARTITION_KEY},
        ExpressionAttributeValues={":stream": {"S": stream_id}},
    )
    return [records.decode_item(item) for page in pages for item in page["Items"]]


def stream_counts(info: dict[str, Any]) -> dict[str, int]:
    """Every stream id with records, and how many (a ``Scan`` of the key attribute only)."""
    pages = clients(info)["dynamodb"].get_paginator("scan").paginate(
        TableName=info["table_name"],
        ProjectionExpression="#pk",
        ExpressionAttributeNames={"#pk": records.PARTITION_KEY},
    )
    counts = collections.Counter(item[records.PARTITION_KEY]["S"] for page in pages for item in page["Items"])
    return dict(sorted(counts.items()))


def stream_ids(info: dict[str, Any]) -> list[str]:
    return list(stream_counts(info))


def clip_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's clips on the stream's clock (segment start + clip offsets)."""
    base = float(record["start_seconds"])
    return [
        {"start_s": base + c["start_s"], "end_s": base + c["end_s"], "label": c["label"], "probability": c["probability"]}
        for c in record.get("clips") or []
    ]


def format_timeline(items: list[dict[str, Any]], by_clip: bool = False) -> str:
    lines = [f"{'segment':>7}  {'time':>15}  {'label':<24} {'probability':>11}"]
    for item in items:
        start, end = float(item["start_seconds"]), float(item["start_seconds"]) + segment_seconds(item)
        lines.append(f"{item['segment_seq']:>7}  {_clock(start):>7}-{_clock(end):<7}  {item['label']:<24} {item['probability']:>11.4f}")
        if by_clip:
            for clip in clip_rows(item):
                lines.append(
                    f"{'':>7}  {_clock(clip['start_s']):>7}-{_clock(clip['end_s']):<7}    {clip['label']:<22} {clip['probability']:>11.4f}"
                )
    noted = [item for item in items if frames_note(item)]
    if noted:
        lines.append(f"(segments {', '.join(str(item['segment_seq']) for item in noted)}: {frames_note(noted[0])})")
    if any(item.get("random_weights") for item in items):
        lines.append("(random weights: these labels are meaningless; see README 'Model')")
    return "\n".join(lines)


def frames_note(item: dict[str, Any]) -> str:
    """The endpoint's note on how the record's frames were sampled ("" when it has none)."""
    frames = item.get("frames")
    return (frames.get("note") or "") if isinstance(frames, dict) else ""


def segment_seconds(item: dict[str, Any]) -> float:
    """How long the segment really is: the decoded video's duration when the record has it, else the nominal length."""
    video = item.get("video") or {}
    actual = video.get("duration_s") if isinstance(video, dict) else None
    return float(actual) if actual else float(item["duration_seconds"])


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def dead_letters(info: dict[str, Any], queue_url: str | None = None) -> list[DeadLetter]:
    """Read every message of the workflow dead-letter queue without consuming it."""
    return _peek(info, queue_url or info["dlq_url"], lambda message: DeadLetter.from_body(message["Body"]))


def undelivered_events(info: dict[str, Any]) -> list[UndeliveredEvent]:
    """Read every message of the events dead-letter queue (events the workflow never received), not consuming it.

    Empty when the stack names no such queue (``--aws`` without ``--events-dlq-url``).
    """
    if not info.get("events_dlq_url"):
        return []
    return _peek(info, info["events_dlq_url"], UndeliveredEvent.from_message)


def _peek(info: dict[str, Any], url: str, parse: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """Every message of a queue, parsed, without consuming them.

    Messages are received with a visibility timeout (so each batch brings new
    ones), then made visible again at once.
    """
    sqs = clients(info)["sqs"]
    seen: dict[str, Any] = {}
    handles: list[str] = []
    try:
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0,
                MessageAttributeNames=["All"], AttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                seen.setdefault(message["MessageId"], parse(message))
    finally:
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(handles[start : start + 10])],
            )
    return list(seen.values())


def _log_group(info: dict[str, Any]) -> str:
    if not info.get("state_machine_log_group"):
        info["state_machine_log_group"] = executions_log.log_group_of(clients(info)["stepfunctions"], info["state_machine_arn"])
    return info["state_machine_log_group"]


def executions(info: dict[str, Any], since: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """Executions from the state machine's log group (Express workflows have no ListExecutions), oldest first.

    Each as a dict with ``executionArn``, ``name``, ``status``, ``startDate``, ``stopDate``
    and ``duration_s``; see :mod:`devstack.executions` for the typed API.
    """
    found = executions_log.list_executions(clients(info)["logs"], _log_group(info), since)
    return [
        {
            "executionArn": e.execution_arn, "name": e.name, "status": e.status, "startDate": e.start,
            "stopDate": e.stop, "duration_s": e.duration_s, "error": e.error, "cause": e.cause,
        }
        for e in found
    ]


def wait_for_executions(info: dict[str, Any], expected: int, timeout_s: float = 600) -> list[dict[str, Any]]:
    """Block until ``expected`` executions exist and none is running."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = executions(info)
        if len(found) >= expected and all(e["status"] != "RUNNING" for e in found):
            return found
        time.sleep(0.5)
    raise TimeoutError(f"{expected} executions did not finish within {timeout_s:.0f} s")


def intake_backlog(info: dict[str, Any]) -> int:
    """Uploads still in the intake queue: waiting, in the workflow, or hidden until their next try."""
    attributes = clients(info)["sqs"].get_queue_attributes(
        QueueUrl=info["intake_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_for_intake(info: dict[str, Any], timeout_s: float = 1800) -> list[dict[str, Any]]:
    """Block until the intake queue is empty and no execution runs: every upload so far has its outcome."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if intake_backlog(info) == 0:
            found = executions(info)
            if all(e["status"] != "RUNNING" for e in found) and intake_backlog(info) == 0:
                return found
        time.sleep(0.5)
    raise TimeoutError(f"the intake queue still held uploads after {timeout_s:.0f} s")


def most_in_flight(found: list[dict[str, Any]]) -> int:
    """The most executions that ran at once, from their start and stop dates."""
    edges = sorted([(e["startDate"], 1) for e in found] + [(e["stopDate"], -1) for e in found if e["stopDate"]],
                   key=lambda edge: (edge[0], edge[1]))
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


#: One state of an execution's trace (kept under its old name for callers).
StepTrace = executions_log.Step


def trace(info: dict[str, Any], execution_arn: str) -> tuple[dict[str, Any], list[StepTrace]]:
    """An execution's states with durations, attempts (retries) and errors, from its log events."""
    summary, steps = executions_log.execution_steps(
        clients(info)["logs"], _log_group(info), execution_arn, local=bool(info.get("endpoint_url"))
    )
    execution = {
        "executionArn": summary.execution_arn, "name": summary.name, "status": summary.status,
        "startDate": summary.start, "stopDate": summary.stop, "error": summary.error, "cause": summary.cause,
    }
    return execution, steps


def format_trace(execution: dict[str, Any], steps: list[StepTrace]) -> str:
    lines = [f"execution {execution['name']}: {execution['status']}"]
    if execution.get("error"):
        lines.append(f"  error: {execution['error']}: {execution.get('cause', '')}")
    for step in steps:
        retries = f"  retries: {step.attempts - 1}" if step.attempts > 1 else ""
        errors = f"  errors: {', '.join(step.errors)}" if step.errors else ""
        lines.append(f"  +{step.entered_s:6.2f}s  {step.state:<24} {step.duration_s:6.2f}s{retries}{errors}")
    return "\n".join(lines)


def format_stream_counts(counts: dict[str, int]) -> str:
    width = max(len(stream) for stream in counts)
    return "\n".join([f"{'stream':<{width}}  records", *(f"{stream:<{width}}  {count:>7}" for stream, count in counts.items())])


def format_executions(found: list[dict[str, Any]]) -> str:
    lines = [f"{'started (UTC)':<19}  {'status':<9} {'seconds':>7}  name / error"]
    for e in found:
        seconds = f"{e['duration_s']:.2f}" if e["duration_s"] is not None else "-"
        error = f"  {e['error']}" if e.get("error") else ""
        lines.append(f"{e['startDate']:%Y-%m-%d %H:%M:%S}  {e['status']:<9} {seconds:>7}  {e['name']}{error}")
    return "\n".join(lines)


def format_dead_letters(letters: list[DeadLetter]) -> str:
    if not letters:
        return "dead-letter queue is empty"
    width = max(len("reason"), *(len(letter.reason) for letter in letters))  # reasons are never cut
    lines = [f"{'reason':<{width}} {'state':<16} key"]
    for letter in letters:
        lines.append(f"{letter.reason:<{width}} {letter.failed_state:<16} {letter.object_key}")
    return "\n".join(lines)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def alerts(info: dict[str, Any], wait_s: float = 0) -> list[dict[str, Any]]:
    """ActivityDetected events received so far (consumed: each is shown once)."""
    if not info.get("alerts_queue_url"):
        return []
    sqs = clients(info)["sqs"]
    found = []
    deadline = time.time() + wait_s
    while True:
        messages = sqs.receive_message(QueueUrl=info["alerts_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=info["alerts_queue_url"], ReceiptHandle=message["ReceiptHandle"])
        if not messages and time.time() >= deadline:
            return found
        if not messages:
            time.sleep(0.3)


def alert_row(event: dict[str, Any]) -> dict[str, Any]:
    """What ``devstack alerts --json`` prints: the event's type, source, time and detail."""
    return {"detail-type": event.get("detail-type"), "source": event.get("source"), "time": event.get("time"),
            "detail": event.get("detail")}


def format_alert(event: dict[str, Any]) -> str:
    kind, detail = event.get("detail-type"), event["detail"]
    if kind == "ActivityDetected":
        return (f"ALERT {detail['label']} p={detail['probability']:.3f} stream {detail['stream_id']} "
                f"segment {detail['segment_seq']} (t={detail['start_seconds']:.0f} s) {detail['s3_uri']}")
    if kind in ("ActivityStarted", "ActivityEnded"):
        end = "" if detail.get("end_seconds") is None else f"-{detail['end_seconds']:.1f}"
        reason = f" ({detail['close_reason']})" if detail.get("close_reason") else ""
        evidence = detail.get("clip_uri") or detail.get("snapshot_uri") or ""
        return (f"{kind:<15} {detail['label']} on {detail['stream_id']} t={detail['start_seconds']:.1f}{end} s{reason} "
                f"peak {detail['peak_probability']:.3f} episode {detail['episode_id']} {evidence}").rstrip()
    return f"{kind:<15} stream {detail.get('stream_id')} at t={detail.get('at_seconds')} s"


def as_json_line(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)