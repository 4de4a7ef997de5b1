"""UpdateEpisodes: fold a stream's records into episodes and send what changed.

Two callers, one handler:

- the workflow, after ``RecordDetection`` (or a duplicate), with
  ``{"stream_id": ..., "sequence": ...}``: fold the stream (the whole known
  timeline after the stream's anchor, not just this segment), then send the
  outbox; a record that arrived after its sequence was declared lost is
  marked ``late`` and changes nothing;
- the schedule (EventBridge Scheduler on AWS, a timer in the local stack),
  with ``{"sweep": true}`` and optionally ``"time"`` (the schedule's time,
  ISO 8601): fold every stream as of that time (holes past the lateness bound
  become lost, streams silent for ``STALL_SECONDS`` stall), and send any
  outbox item left behind by a failed run.

Configuration: :class:`contracts.environment.EpisodesEnvironment`, set by the
Pulumi program and read once at start (a missing variable stops the function
with a message naming it).
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contracts import episodes as ep
from contracts.environment import EpisodesEnvironment
from lambdas.episodes import evidence
from lambdas.episodes.store import Conflict, Store

logger = Logger(service="episodes")
CONFIG = EpisodesEnvironment.from_environ()
metrics = Metrics(namespace="ActivityDetection", service="episodes")
#: Optimistic-concurrency retries of one fold (each retry reads again).
MAX_FOLD_ATTEMPTS = 10
#: Sequence numbers folded per commit: keeps one commit well inside a 100-item transaction.
STEPS_PER_COMMIT = 8
#: Stop sending outbox items when the invocation has less than this left (the sweep finishes them).
RESERVE_MS = 4000

_clients: dict[str, Any] = {}


def _client(name: str):
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def _rules() -> ep.EpisodeRules:
    found = ep.EpisodeRules(
        threshold=CONFIG.episode_threshold,
        open_segments=CONFIG.episode_open_segments,
        close_segments=CONFIG.episode_close_segments,
        lateness_seconds=CONFIG.episode_lateness_seconds,
    )
    found.validate()
    return found


RULES = _rules()


def store() -> Store:
    return Store(_client("dynamodb"), CONFIG.episodes_table, CONFIG.records_table)


def outbox_entries(result: ep.Advance) -> list[dict[str, Any]]:
    """What to send for a fold's transitions: activity events for watched labels, stream events always.

    Every activity transition gets an entry (its evidence is made while sending);
    ``notify`` says whether an event goes out.
    """
    watched = set(CONFIG.notify_labels)
    entries = []
    for transition in result.transitions:
        entry = {"event_id": transition.event_id, "detail_type": transition.detail_type,
                 "detail": ep.event_detail(transition)}
        if transition.episode is not None:
            entry["notify"] = transition.episode.label in watched
            entry["episode"] = {"stream_id": transition.episode.stream_id, "key": transition.episode.key}
        else:
            entry["notify"] = True
        entries.append(entry)
    return entries


def fold_stream(stream_id: str, now: float, stall_after: float | None = None, sequence: int | None = None) -> dict[str, Any]:
    """Fold, commit (retrying on conflicts), then send; returns a summary for the workflow's output."""
    db = store()
    keys, changed, events = [], {}, []
    while True:
        result = _fold_once(db, stream_id, now, stall_after)
        keys += result.outbox_keys
        changed.update(result.changed)
        events += [t.event_id for t in result.transitions]
        if not result.more:
            break
    # Folded (by this run or another) as lost before this record was there: the record is late.
    late = sequence is not None and sequence <= result.carry.anchor_seq and sequence in result.carry.lost
    if late:
        db.mark_late(stream_id, sequence)
        logger.warning("late segment: recorded, episodes unchanged", extra={"stream_id": stream_id, "sequence": sequence})
    return {
        "stream_id": stream_id,
        "anchor_seq": result.carry.anchor_seq,
        "late": late,
        "changed": sorted(e.episode_id for e in changed.values()),
        "events": events,
        "outbox": keys,
    }


def _fold_once(db: Store, stream_id: str, now: float, stall_after: float | None) -> ep.Advance:
    """One committed fold of at most :data:`STEPS_PER_COMMIT` sequence numbers (retried on conflicts)."""
    for _ in range(MAX_FOLD_ATTEMPTS):
        carry = db.load_carry(stream_id)
        observations = [ep.observe(r, RULES) for r in db.records_after(stream_id, carry.anchor_seq)]
        result = ep.advance(carry, observations, now=now, rules=RULES, stall_after_seconds=stall_after,
                            max_steps=STEPS_PER_COMMIT)
        result.outbox_keys = []
        if _unchanged(carry, result.carry):
            return result
        try:
            result.outbox_keys = db.commit(carry, result, outbox_entries(result))
            return result
        except Conflict:
            continue
    raise Conflict(f"{stream_id}: {MAX_FOLD_ATTEMPTS} conflicting folds in a row")


def _unchanged(before: ep.Carry, after: ep.Carry) -> bool:
    strip = lambda carry: {k: v for k, v in carry.to_item().items() if k != "version"}  # noqa: E731
    return strip(before) == strip(after)


def send(db: Store, stream_id: str, key: str, now: float) -> bool:
    """Claim one outbox item, make its evidence, send its event, delete it."""
    entry = db.claim(stream_id, key, now)
    if entry is None:
        return False
    detail = entry["detail"]
    if "episode" in entry:
        made = evidence.make(entry["detail_type"], detail, _covering_records(db, detail), CONFIG)
        if made.snapshot_uri or made.clip_uri:
            db.set_evidence(detail["stream_id"], ep.episode_key(int(detail["first_segment"]), detail["label"]),
                            made.snapshot_uri, made.clip_uri)
            detail = {**detail, "snapshot_uri": made.snapshot_uri or detail.get("snapshot_uri"),
                      "clip_uri": made.clip_uri or detail.get("clip_uri")}
        if made.error:
            logger.warning("no evidence", extra={"episode_id": detail["episode_id"], "error": made.error})
            detail = {**detail, "evidence_error": made.error}
    bus = CONFIG.event_bus_name
    if entry.get("notify") and bus:
        reply = _client("events").put_events(
            Entries=[{"EventBusName": bus, "Source": ep.EVENT_SOURCE, "DetailType": entry["detail_type"],
                      "Detail": json.dumps(detail)}]
        )
        if reply.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents failed for {entry['event_id']}: {reply['Entries']}")
        if entry["detail_type"] == ep.STREAM_STALLED:
            metrics.add_metric(name="StreamsStalled", unit=MetricUnit.Count, value=1)
    db.done(stream_id, key)
    return True


def _covering_records(db: Store, detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The records around the episode that the snapshot and the clip may need (pre/post-roll included)."""
    roll = max(CONFIG.evidence_preroll_seconds, CONFIG.evidence_postroll_seconds)
    extra = int(roll // CONFIG.segment_seconds) + 1
    first, last = int(detail["first_segment"]), int(detail["last_segment"])
    return [r for r in db.records_after(detail["stream_id"], first - extra - 1) if int(r["segment_seq"]) <= last + extra
            and not r.get("late")]


def drain(db: Store, stream_id: str, keys: list[str], now: float, context: Any) -> int:
    sent = 0
    for key in keys:
        if context is not None and context.get_remaining_time_in_millis() < RESERVE_MS:
            logger.warning("out of time: the sweep sends the rest", extra={"stream_id": stream_id, "left": len(keys) - sent})
            break
        sent += send(db, stream_id, key, now)
    return sent


def sweep(now: float, context: Any) -> dict[str, Any]:
    db = store()
    stall_after = CONFIG.stall_seconds
    stalled, sent = 0, 0
    for stream_id in db.stream_ids():
        summary = fold_stream(stream_id, now, stall_after=stall_after)
        stalled += any(e.endswith(":" + ep.STREAM_STALLED) for e in summary["events"])
        sent += drain(db, stream_id, db.outbox_keys(stream_id), now, context)
    metrics.add_metric(name="StreamsStalledBySweep", unit=MetricUnit.Count, value=stalled)
    return {"streams": len(db.stream_ids()), "stalled": stalled, "sent": sent}


def _event_time(event: dict[str, Any]) -> float:
    value = event.get("time")
    return ep._parse_time(value) if value else time.time()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("sweep"):
        return sweep(_event_time(event), context)
    stream_id, sequence = event["stream_id"], int(event["sequence"])
    now = time.time()
    summary = fold_stream(stream_id, now, sequence=sequence)
    summary["sent"] = drain(store(), stream_id, summary["outbox"], now, context)
    return summary
