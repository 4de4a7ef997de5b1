"""What the console shows, read from the local stack or a deployment: the console's only data access.

Every page and JSON endpoint goes through :class:`ConsoleData`, so that a new
source (a reader of the episodes table, executions read from the state
machine's log group) is a change here, not in the web layer.

Values handed out are plain JSON-able dicts. Strings in them come from users
(a stream id is an S3 key) and are escaped by whoever renders them.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.config import Config

from contracts import records
from contracts.dead_letters import DeadLetter, UndeliveredEvent
from devstack import executions as executions_log
from devstack import observe

#: Presigned URLs handed to the browser expire after this many seconds.
PRESIGN_SECONDS = 300
#: A stream whose last record is older than this many segment lengths is "stalled".
STALLED_AFTER_SEGMENTS = 3
#: Executions listed on the executions page (newest first).
EXECUTIONS_SHOWN = 100
_HOUR = 3600.0


def _epoch(stamp: Any) -> float | None:
    if stamp is None or stamp == "":
        return None
    if isinstance(stamp, datetime):
        return stamp.timestamp()
    try:
        parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


@dataclass
class RedriveJob:
    """One redrive run, done in the background; the page polls its state."""

    scope: str  # "all" or the execution ARN of one dead letter
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    redriven: list[str] = field(default_factory=list)
    still_failing: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "running": self.finished_at is None,
            "redriven": self.redriven,
            "still_failing": [{"key": key, "reason": reason} for key, reason in self.still_failing],
            "error": self.error,
        }


class ConsoleData:
    """Reads a stack described by ``info`` (``.devstack/stack.json``'s keys, or the ``--aws`` options)."""

    def __init__(self, info: dict[str, Any], now: Callable[[], float] = time.time):
        self.info = info
        self.now = now
        self.local = bool(info.get("endpoint_url"))
        self._clients = observe.clients(info)
        # Presigned URLs must name the bucket the way the browser can reach it (path style for moto).
        # SigV4 (``X-Amz-Expires``); path-style for moto, whose host serves every bucket.
        kwargs: dict[str, Any] = {"region_name": info["region"], "config": Config(signature_version="s3v4")}
        if self.local:
            kwargs.update(endpoint_url=info["endpoint_url"], config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
                          **observe.LOCAL_CREDENTIALS)
        import boto3

        self._presigner = boto3.client("s3", **kwargs)
        # Listing the DLQ hides its messages for a moment; a redrive must not run at the same time.
        self._queue_lock = threading.Lock()
        self._letters_snapshot: list[dict[str, Any]] = []
        self._job: RedriveJob | None = None

    # ---- streams -------------------------------------------------------------------------------
    def _scan_records(self) -> list[dict[str, Any]]:
        pages = self._clients["dynamodb"].get_paginator("scan").paginate(
            TableName=self.info["table_name"],
            ProjectionExpression="#pk, #sk, created_at, duration_seconds",
            ExpressionAttributeNames={"#pk": records.PARTITION_KEY, "#sk": records.SORT_KEY},
        )
        return [records.decode_item(item) for page in pages for item in page["Items"]]

    def streams(self) -> list[dict[str, Any]]:
        """Every stream with its health and its records per hour over the last 24 hours."""
        now = self.now()
        by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in self._scan_records():
            by_stream[item[records.PARTITION_KEY]].append(item)
        out = []
        for stream_id, items in sorted(by_stream.items()):
            stamps = [t for t in (_epoch(item.get("created_at")) for item in items) if t is not None]
            last = max(stamps) if stamps else None
            segment_s = float(max(items, key=lambda i: i[records.SORT_KEY]).get("duration_seconds") or 10)
            age = None if last is None else max(0.0, now - last)
            hours = [0] * 24
            for stamp in stamps:
                back = int((now - stamp) // _HOUR)
                if 0 <= back < 24:
                    hours[23 - back] += 1
            out.append({
                "stream_id": stream_id,
                "records": len(items),
                "last_segment_seq": max(item[records.SORT_KEY] for item in items),
                "last_record_at": _iso(last),
                "age_seconds": age,
                "stalled_after_seconds": STALLED_AFTER_SEGMENTS * segment_s,
                "health": "live" if age is not None and age <= STALLED_AFTER_SEGMENTS * segment_s else "stalled",
                "open_episodes": sum(1 for e in self.episodes(stream_id) if e.get("status") == "open"),
                "records_last_hour": hours[-1],
                "records_per_hour": hours,  # oldest first; the last entry is the current hour
            })
        return out

    def timeline(self, stream_id: str) -> dict[str, Any]:
        """A stream's records (segment and clip results on the stream's clock) and its episodes."""
        segments = []
        for item in observe.timeline(self.info, stream_id):
            start = float(item["start_seconds"])
            segments.append({
                "segment_seq": item[records.SORT_KEY],
                "start_s": start,
                "end_s": start + float(item["duration_seconds"]),
                "label": item["label"],
                "probability": float(item["probability"]),
                "confident": item.get("confident"),
                "top_k": item.get("top_k") or [],
                "clips": observe.clip_rows(item),
                "created_at": item.get("created_at"),
                "s3_uri": item.get("s3_uri"),
                "random_weights": bool(item.get("random_weights")),
                "execution_arn": item.get("execution_arn"),
            })
        return {"stream_id": stream_id, "segments": segments, "episodes": self.episodes(stream_id)}

    def episodes(self, stream_id: str) -> list[dict[str, Any]]:
        """A stream's episodes (``Episode.to_json``) with presigned ``snapshot_url`` and ``clip_url``.

        Empty where the stack has no episodes table (``episodes_table_name``).
        """
        from devstack import episodes as episodes_reader

        if not self.info.get("episodes_table_name"):
            return []
        return [
            {**episode.to_json(), "snapshot_url": self.presign(episode.snapshot_uri), "clip_url": self.presign(episode.clip_uri)}
            for episode in episodes_reader.for_stream(self.info, stream_id)
        ]

    def presign(self, s3_uri: str | None) -> str | None:
        """A GET URL for one object, valid for :data:`PRESIGN_SECONDS`."""
        if not s3_uri:
            return None
        bucket, key = parse_s3_uri(s3_uri)
        return self._presigner.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
        )

    # ---- executions ----------------------------------------------------------------------------
    def _log_group(self) -> str:
        if not self.info.get("state_machine_log_group"):
            self.info["state_machine_log_group"] = executions_log.log_group_of(
                self._clients["stepfunctions"], self.info["state_machine_arn"]
            )
        return self.info["state_machine_log_group"]

    def executions(self) -> list[dict[str, Any]]:
        """The newest executions with status, duration and the segment they ran for (from the log group)."""
        found = executions_log.list_executions(self._clients["logs"], self._log_group())
        return [_summary(e) for e in reversed(found[-EXECUTIONS_SHOWN:])]

    def execution(self, execution_arn: str) -> dict[str, Any]:
        """One execution, state by state: input, output, attempts, and a failed state's error and cause."""
        summary, steps = executions_log.execution_steps(
            self._clients["logs"], self._log_group(), execution_arn, local=self.local
        )
        return {**_summary(summary), "input": _json(summary.input), "output": _json(summary.output),
                "error": summary.error, "cause": summary.cause, "states": [state_of(step) for step in steps]}

    # ---- dead letters --------------------------------------------------------------------------
    def dead_letters(self) -> dict[str, Any]:
        """The workflow DLQ's messages, the events DLQ's (events the workflow never received), neither
        consumed, and the state of the last redrive."""
        if self._queue_lock.acquire(timeout=0.1):
            try:
                self._letters_snapshot = [_letter(letter) for letter in observe.dead_letters(self.info)]
            finally:
                self._queue_lock.release()
        job = self._job.as_dict() if self._job else None
        undelivered = [_undelivered(event) for event in observe.undelivered_events(self.info)]
        return {"dead_letters": self._letters_snapshot, "undelivered": undelivered, "redrive": job}

    def start_redrive(self, execution_arn: str | None = None) -> bool:
        """Redrive one dead letter (by the failed execution's ARN) or all, in the background.

        Returns False when a redrive is already running.
        """
        from devstack.redrive import redrive

        if self._job and self._job.finished_at is None:
            return False
        job = self._job = RedriveJob(scope=execution_arn or "all")

        def run() -> None:
            with self._queue_lock:
                try:
                    report = redrive(
                        self.info, only=lambda letter: execution_arn is None or letter.execution_arn == execution_arn
                    )
                    job.redriven, job.still_failing = report.redriven, report.still_failing
                except Exception as error:  # noqa: BLE001 - shown on the page
                    job.error = f"{type(error).__name__}: {error}"
                finally:
                    job.finished_at = time.time()

        threading.Thread(target=run, name="console-redrive", daemon=True).start()
        return True


def _json(text: str | None) -> Any:
    import json

    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _object_key(event: Any) -> str | None:
    if not isinstance(event, dict):
        return None
    return (event.get("detail") or {}).get("object", {}).get("key")


def _letter(letter: DeadLetter) -> dict[str, Any]:
    return {
        "reason": letter.reason,
        "failed_state": letter.failed_state,
        "error": letter.error,
        "cause": letter.cause,
        "object_key": letter.object_key,
        "execution_arn": letter.execution_arn,
        "failed_at": letter.failed_at,
    }


def _undelivered(event: UndeliveredEvent) -> dict[str, Any]:
    return {
        "reason": event.error_code,
        "error_message": event.error_message,
        "rule_arn": event.rule_arn,
        "target_arn": event.target_arn,
        "object_key": event.object_key,
        "sent_at": event.sent_at,
    }


def _summary(execution: executions_log.ExecutionSummary) -> dict[str, Any]:
    return {
        "execution_arn": execution.execution_arn,
        "name": execution.name,
        "status": execution.status,
        "started_at": _iso(execution.start.timestamp()),
        "duration_seconds": None if execution.duration_s is None else round(execution.duration_s, 3),
        "object_key": _object_key(_json(execution.input)),
    }


def state_of(step: executions_log.Step) -> dict[str, Any]:
    """One state for the page: ``status`` is ``succeeded``, ``caught`` (its last attempt failed and a
    Catch moved on), ``failed`` (a Fail state, or the state the execution ended in) or ``running``."""
    if step.outcome == "ok":
        status = "caught" if step.errors and step.attempts <= len(step.errors) else "succeeded"
    elif step.outcome == "entered":
        status = "running"
    else:
        status = "failed"
    errors = [{"error": error, "cause": None} for error in step.errors]
    if step.error and (not errors or errors[-1]["error"] != step.error):
        errors.append({"error": step.error, "cause": None})
    if errors:
        errors[-1]["cause"] = step.cause
    return {
        "name": step.state,
        "entered_s": round(step.entered_s, 3),
        "duration_s": round(step.duration_s, 3) if step.outcome != "entered" else None,
        "input": _json(step.input),
        "output": _json(step.output),
        "attempts": step.attempts,
        "errors": errors,
        "status": status,
    }
