"""Episodes: an activity with a start and an end, folded from a stream's records.

One source of truth for the episode rule, the episode item and the events
built from it. The episodes Lambda (``lambdas/episodes``) folds records with
:func:`advance`; readers (the CLI, the console) decode items with
:func:`decode_episode`.

The rule, per stream and label (config keys in ``Pulumi.yaml``):

- a segment *shows* a label when the label is the segment's top label at or
  above ``episodeThreshold`` or, with ``clips>1``, a clip's top label at or
  above it;
- an episode **opens** after ``episodeOpenSegments`` consecutive segments
  showing the label (default 1, at most 2) and starts at the first of them;
- it **closes** after ``episodeCloseSegments`` consecutive segments without
  the label (default 2, at most 3), ending where the label was last seen
  (reason ``absent``), or when the stream stalls (reason ``stalled``).

Order does not matter: records are folded in sequence order, never in arrival
order. The fold advances only over the *known* prefix of the timeline: a
sequence number is known when its record is there, or when it is declared
lost because a later segment was recorded more than ``episodeLatenessSeconds``
ago (a lost segment shows no label). Everything folded is final, so the
episodes and their events are a function of the timeline, whatever the arrival
order, duplicates or concurrency. A record that arrives after its sequence was
declared lost is *late*: it is kept, it does not change folded episodes, and
the record says so (``late``).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from contracts import events, records
from contracts.endpoint import NO_CONFIDENT_ACTIVITY

#: Episodes table: partition key stream_id, sort key episode_key.
PARTITION_KEY = "stream_id"
SORT_KEY = "episode_key"
#: The per-stream state item's sort key (sorts before every episode key).
STATE_KEY = "#stream"
#: Outbox items' sort-key prefix: events written with the fold, sent after it.
OUTBOX_PREFIX = "#outbox#"
#: Global secondary index: episodes across streams per label, by wall-clock start.
LABEL_INDEX = "by-label"
LABEL_INDEX_KEYS = ("label", "start_time")

#: Labels that never make an episode.
NO_ACTIVITY_LABELS = frozenset({NO_CONFIDENT_ACTIVITY})

STATUS_OPEN = "open"
STATUS_CLOSED = "closed"
REASON_ABSENT = "absent"
REASON_STALLED = "stalled"

#: EventBridge: the source and detail types of the events the fold sends (defined in contracts.events).
EVENT_SOURCE = events.SOURCE
ACTIVITY_STARTED = events.ACTIVITY_STARTED
ACTIVITY_ENDED = events.ACTIVITY_ENDED
STREAM_STALLED = events.STREAM_STALLED
STREAM_RESUMED = events.STREAM_RESUMED

_ID_NAMESPACE = uuid.UUID("6f1c2a52-8d1e-4e1c-9a43-4d7d2f3a9b10")

MAX_OPEN_SEGMENTS = 2
MAX_CLOSE_SEGMENTS = 3
#: Lost sequence numbers remembered per stream (to tell a late record from a duplicate).
LOST_MEMORY = 500


@dataclass(frozen=True)
class EpisodeRules:
    """The episode rule's settings (stack config ``episode*``; defaults in ``Pulumi.yaml`` only)."""

    threshold: float
    open_segments: int
    close_segments: int
    lateness_seconds: float

    def validate(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("episodeThreshold must be between 0 and 1")
        if not 1 <= self.open_segments <= MAX_OPEN_SEGMENTS:
            raise ValueError(f"episodeOpenSegments must be between 1 and {MAX_OPEN_SEGMENTS}")
        if not 1 <= self.close_segments <= MAX_CLOSE_SEGMENTS:
            raise ValueError(f"episodeCloseSegments must be between 1 and {MAX_CLOSE_SEGMENTS}")
        if self.lateness_seconds < 0:
            raise ValueError("episodeLatenessSeconds must not be negative")


def episode_id(stream_id: str, label: str, start_seq: int) -> str:
    """Stable id: the same stream, label and first segment always give the same id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{stream_id}\0{label}\0{start_seq}"))


def episode_key(start_seq: int, label: str) -> str:
    """Sort key: episodes of a stream in time order (then by label)."""
    return f"{start_seq:010d}#{label}"


# --- What the fold reads: one observation per record ----------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A label shown by a segment: its best probability and where in the segment it was seen."""

    label: str
    probability: float
    #: Offsets in seconds from the segment's start.
    start_offset: float
    end_offset: float
    #: Offset of the sampled frame where the label scored highest.
    best_frame_offset: float


@dataclass(frozen=True)
class Observation:
    """The part of a record the episode rule needs."""

    seq: int
    #: Start on the stream clock, and length, in seconds.
    start_seconds: float
    duration_seconds: float
    #: Arrival (processing) time of the record, Unix seconds: decides lateness only.
    recorded_at: float
    hits: tuple[Hit, ...] = ()
    #: Wall-clock start (ISO 8601, UTC), when known.
    wall_start: str | None = None
    s3_uri: str = ""


def _parse_time(value: Any) -> float:
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    text = str(value).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def _shift(wall: str | None, seconds: float) -> str | None:
    return iso(_parse_time(wall) + seconds) if wall else None


def _best_frame_offset(record: Mapping[str, Any], start: float, end: float) -> float:
    """The sampled frame in the middle of [start, end) (the frames the endpoint scored)."""
    stamps = (record.get("frames") or {}).get("timestamps_s") or []
    flat = [t for clip in stamps for t in (clip if isinstance(clip, list) else [clip])]  # one list per clip
    times = sorted(float(t) for t in flat if start <= float(t) < end)
    return times[len(times) // 2] if times else (start + end) / 2


def _wall_start(record: Mapping[str, Any], duration: float) -> str | None:
    """The segment's wall-clock start: the source's own time when the record has it (``wall_time``),
    else its upload time minus its duration (a live source uploads a segment once it is complete)."""
    if record.get("wall_time"):
        return str(record["wall_time"])
    if record.get("uploaded_at"):
        return iso(_parse_time(record["uploaded_at"]) - duration)
    return None


def observe(record: Mapping[str, Any], rules: EpisodeRules) -> Observation:
    """A decoded record (:func:`contracts.records.decode_item`) as the fold sees it."""
    duration = float(record.get("duration_seconds") or 0.0)
    best: dict[str, Hit] = {}

    def consider(label: str, probability: float, start: float, end: float) -> None:
        if label in NO_ACTIVITY_LABELS or probability < rules.threshold:
            return
        hit = Hit(label, probability, start, end, _best_frame_offset(record, start, end))
        old = best.get(label)
        if old is None:
            best[label] = hit
        else:
            top = hit if probability > old.probability else old
            best[label] = dataclasses.replace(
                top, start_offset=min(old.start_offset, start), end_offset=max(old.end_offset, end)
            )

    clips = record.get("clips") or []
    if len(clips) > 1:
        for clip in clips:
            consider(clip["label"], float(clip["probability"]), float(clip["start_s"]), float(clip["end_s"]))
    else:
        consider(str(record.get("label")), float(record.get("probability") or 0.0), 0.0, duration)
    return Observation(
        seq=int(record[records.SORT_KEY]),
        start_seconds=float(record.get("stream_seconds", record.get("start_seconds")) or 0.0),
        duration_seconds=duration,
        recorded_at=_parse_time(record["created_at"]),
        hits=tuple(sorted(best.values(), key=lambda h: h.label)),
        wall_start=_wall_start(record, duration),
        s3_uri=str(record.get("s3_uri", "")),
    )


# --- The episode ------------------------------------------------------------------------------------


@dataclass
class Episode:
    """One episode. ``end_*`` are ``None`` while it is open."""

    episode_id: str
    stream_id: str
    label: str
    status: str
    start_seq: int
    last_seq: int
    start_seconds: float
    #: Where the label was last seen (stream clock), kept up to date while open.
    last_seen_seconds: float
    peak_probability: float
    peak_seq: int
    #: Stream-clock time of the frame where the label scored highest.
    peak_seconds: float
    segment_count: int
    start_time: str | None = None
    last_seen_time: str | None = None
    close_reason: str | None = None
    snapshot_uri: str | None = None
    clip_uri: str | None = None
    #: Segments (seq -> s3 uri) the evidence is cut from; kept small (first and peak ones).
    segments: dict[str, str] = field(default_factory=dict)

    @property
    def end_seconds(self) -> float | None:
        return self.last_seen_seconds if self.status == STATUS_CLOSED else None

    @property
    def end_time(self) -> str | None:
        return self.last_seen_time if self.status == STATUS_CLOSED else None

    @property
    def key(self) -> str:
        return episode_key(self.start_seq, self.label)

    def to_json(self) -> dict[str, Any]:
        """The public view: CLI ``events --json``, event details, the console."""
        return {
            "episode_id": self.episode_id,
            "stream_id": self.stream_id,
            "label": self.label,
            "status": self.status,
            "start_seconds": round(self.start_seconds, 3),
            "end_seconds": None if self.end_seconds is None else round(self.end_seconds, 3),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "peak_probability": round(self.peak_probability, 6),
            "peak_seconds": round(self.peak_seconds, 3),
            "segment_count": self.segment_count,
            "first_segment": self.start_seq,
            "last_segment": self.last_seq,
            "close_reason": self.close_reason,
            "snapshot_uri": self.snapshot_uri,
            "clip_uri": self.clip_uri,
        }

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (document form: numbers as Decimal)."""
        item: dict[str, Any] = {
            PARTITION_KEY: self.stream_id,
            SORT_KEY: self.key,
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
            "end_seconds": self.end_seconds,
            "end_time": self.end_time,
        }
        return {k: _to_dynamo(v) for k, v in item.items() if v is not None}


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(round(value, 6)))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def episode_from_item(item: Mapping[str, Any]) -> Episode:
    """An episode from its item in document form (``boto3.resource`` / ``TypeDeserializer``)."""
    plain = {k: _from_dynamo(v) for k, v in item.items()}
    names = {f.name for f in dataclasses.fields(Episode)}
    values = {k: v for k, v in plain.items() if k in names}
    for name in ("start_seconds", "last_seen_seconds", "peak_probability", "peak_seconds"):
        values[name] = float(values[name])
    return Episode(**values)


def decode_episode(item: Mapping[str, Mapping[str, Any]]) -> Episode:
    """An episode from a low-level item (as the ``dynamodb`` client's ``Query`` returns it)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return episode_from_item({k: deserializer.deserialize(v) for k, v in item.items()})


def is_episode_item(item: Mapping[str, Any]) -> bool:
    key = item[SORT_KEY]
    key = key["S"] if isinstance(key, Mapping) else key
    return not str(key).startswith("#")


# --- The fold -----------------------------------------------------------------------------------------


@dataclass
class Transition:
    """Something the fold decided once: an episode started or ended, or the stream stalled or resumed."""

    detail_type: str
    episode: Episode | None = None
    stream_id: str = ""
    at_seconds: float | None = None

    @property
    def event_id(self) -> str:
        """Deduplication key of the event this transition sends."""
        subject = self.episode.episode_id if self.episode else f"{self.stream_id}@{self.at_seconds}"
        return f"{subject}:{self.detail_type}"


@dataclass
class Carry:
    """What the fold keeps between runs (the stream's state item): everything up to ``anchor_seq`` is final."""

    stream_id: str
    anchor_seq: int = -1
    #: Confirmed open episodes and unconfirmed candidates, by label.
    open: dict[str, Episode] = field(default_factory=dict)
    #: Consecutive segments without the label since it was last seen, by label.
    misses: dict[str, int] = field(default_factory=dict)
    confirmed: dict[str, bool] = field(default_factory=dict)
    #: Sequence numbers declared lost (the most recent :data:`LOST_MEMORY`).
    lost: list[int] = field(default_factory=list)
    head_seq: int = -1
    last_arrival: float = 0.0
    stalled: bool = False
    version: int = 0

    def to_item(self) -> dict[str, Any]:
        return {
            PARTITION_KEY: self.stream_id,
            SORT_KEY: STATE_KEY,
            "anchor_seq": self.anchor_seq,
            "open": {label: _to_dynamo(dataclasses.asdict(ep)) for label, ep in self.open.items()},
            "misses": dict(self.misses),
            "confirmed": dict(self.confirmed),
            "lost": list(self.lost),
            "head_seq": self.head_seq,
            "last_arrival": _to_dynamo(float(self.last_arrival)),
            "stalled": self.stalled,
            "version": self.version,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None, stream_id: str) -> "Carry":
        if not item:
            return cls(stream_id=stream_id)
        plain = _from_dynamo(dict(item))
        return cls(
            stream_id=stream_id,
            anchor_seq=int(plain["anchor_seq"]),
            open={label: episode_from_item(ep) for label, ep in (plain.get("open") or {}).items()},
            misses={k: int(v) for k, v in (plain.get("misses") or {}).items()},
            confirmed={k: bool(v) for k, v in (plain.get("confirmed") or {}).items()},
            lost=[int(s) for s in plain.get("lost") or []],
            head_seq=int(plain.get("head_seq", -1)),
            last_arrival=float(plain.get("last_arrival", 0.0)),
            stalled=bool(plain.get("stalled", False)),
            version=int(plain.get("version", 0)),
        )


@dataclass
class Advance:
    """The result of one fold: the new carry, the episodes it changed, what to announce."""

    carry: Carry
    changed: dict[str, Episode]
    transitions: list[Transition]
    #: Records that arrived after their sequence was declared lost.
    late: list[int]
    #: Sequence numbers this fold declared lost.
    lost: list[int]
    #: Known sequence numbers are left to fold (``max_steps`` was reached).
    more: bool = False

    @property
    def state_changed(self) -> bool:
        return bool(self.changed or self.transitions or self.lost)


def _known_steps(carry: Carry, present: Mapping[int, Observation], now: float, lateness: float) -> list[tuple[int, Observation | None]]:
    """The sequence numbers after the anchor that are known now, in order (``None``: lost)."""
    if not present:
        return []
    seqs = sorted(present)
    # earliest[i]: the earliest arrival among records seqs[i:], to expire the holes before seqs[i].
    earliest = [0.0] * len(seqs)
    running = float("inf")
    for i in range(len(seqs) - 1, -1, -1):
        running = min(running, present[seqs[i]].recorded_at)
        earliest[i] = running
    steps: list[tuple[int, Observation | None]] = []
    seq = carry.anchor_seq + 1
    for i, next_seq in enumerate(seqs):
        if next_seq < seq:
            continue
        if next_seq > seq:  # a hole [seq, next_seq): lost once a later record is older than the bound
            if now - earliest[i] < lateness:
                return steps
            steps.extend((s, None) for s in range(seq, next_seq))
        steps.append((next_seq, present[next_seq]))
        seq = next_seq + 1
    return steps


def _extend(episode: Episode, obs: Observation, hit: Hit) -> None:
    episode.last_seq = obs.seq
    episode.last_seen_seconds = obs.start_seconds + hit.end_offset
    episode.last_seen_time = _shift(obs.wall_start, hit.end_offset)
    episode.segment_count += 1
    if hit.probability > episode.peak_probability:
        episode.peak_probability = hit.probability
        episode.peak_seq = obs.seq
        episode.peak_seconds = obs.start_seconds + hit.best_frame_offset
        episode.segments["peak"] = obs.s3_uri


def _begin(stream_id: str, obs: Observation, hit: Hit) -> Episode:
    return Episode(
        episode_id=episode_id(stream_id, hit.label, obs.seq),
        stream_id=stream_id,
        label=hit.label,
        status=STATUS_OPEN,
        start_seq=obs.seq,
        last_seq=obs.seq,
        start_seconds=obs.start_seconds + hit.start_offset,
        last_seen_seconds=obs.start_seconds + hit.end_offset,
        peak_probability=hit.probability,
        peak_seq=obs.seq,
        peak_seconds=obs.start_seconds + hit.best_frame_offset,
        segment_count=1,
        start_time=_shift(obs.wall_start, hit.start_offset),
        last_seen_time=_shift(obs.wall_start, hit.end_offset),
        segments={"first": obs.s3_uri, "peak": obs.s3_uri},
    )


def _step(carry: Carry, seq: int, obs: Observation | None, rules: EpisodeRules, out: Advance) -> None:
    hits = {hit.label: hit for hit in (obs.hits if obs else ())}
    for label in sorted(set(carry.open) | set(hits)):
        episode, hit = carry.open.get(label), hits.get(label)
        if hit is not None and obs is not None:
            if episode is None:
                episode = carry.open[label] = _begin(carry.stream_id, obs, hit)
                carry.confirmed[label] = False
            else:
                _extend(episode, obs, hit)
            carry.misses[label] = 0
            if carry.confirmed[label]:
                out.changed[episode.key] = episode
            elif episode.segment_count >= rules.open_segments:
                carry.confirmed[label] = True
                out.changed[episode.key] = episode
                out.transitions.append(Transition(ACTIVITY_STARTED, dataclasses.replace(episode), carry.stream_id))
        elif episode is not None:
            if not carry.confirmed[label]:  # an unconfirmed start needs consecutive segments
                _forget(carry, label)
                continue
            carry.misses[label] += 1
            if carry.misses[label] >= rules.close_segments:
                _close(carry, label, REASON_ABSENT, out)
    carry.anchor_seq = seq


def _forget(carry: Carry, label: str) -> None:
    carry.open.pop(label, None)
    carry.misses.pop(label, None)
    carry.confirmed.pop(label, None)


def _close(carry: Carry, label: str, reason: str, out: Advance) -> None:
    episode = carry.open[label]
    episode.status, episode.close_reason = STATUS_CLOSED, reason
    out.changed[episode.key] = episode
    out.transitions.append(Transition(ACTIVITY_ENDED, dataclasses.replace(episode), carry.stream_id))
    _forget(carry, label)


def advance(
    carry: Carry,
    observations: Iterable[Observation],
    now: float,
    rules: EpisodeRules,
    stall_after_seconds: float | None = None,
    max_steps: int | None = None,
) -> Advance:
    """Fold the known records after ``carry.anchor_seq`` into episodes.

    ``observations`` are the stream's records (any order, duplicates allowed;
    those at or before the anchor are ignored, and reported as late when their
    sequence was declared lost). ``now`` decides which holes are lost and
    whether the stream stalled (no record for ``stall_after_seconds``): a
    stalled stream's holes are all lost and its open episodes close with
    reason ``stalled``. At most ``max_steps`` sequence numbers are folded
    (``more`` says whether known ones are left: fold again). The carry is not
    modified; the result holds a new one.
    """
    new = Carry.from_item(carry.to_item(), carry.stream_id)
    out = Advance(carry=new, changed={}, transitions=[], late=[], lost=[])
    present: dict[int, Observation] = {}
    lost_before = set(carry.lost)
    for obs in observations:
        if obs.seq <= carry.anchor_seq:
            if obs.seq in lost_before and obs.seq not in out.late:
                out.late.append(obs.seq)
            continue
        present[obs.seq] = obs
    arrivals = [obs.recorded_at for obs in present.values()]
    if arrivals:
        new.head_seq = max(new.head_seq, max(present))
        newest = max(arrivals)
        if new.stalled and newest > new.last_arrival:
            new.stalled = False
            out.transitions.append(Transition(STREAM_RESUMED, None, carry.stream_id, at_seconds=_first_start(present)))
        new.last_arrival = max(new.last_arrival, newest)
    stalling = (
        stall_after_seconds is not None
        and not new.stalled
        and new.last_arrival > 0
        and now - new.last_arrival >= stall_after_seconds
    )
    lateness = 0.0 if stalling else rules.lateness_seconds
    steps = _known_steps(new, present, now, lateness)
    if max_steps is not None and len(steps) > max_steps:
        steps, out.more, stalling = steps[:max_steps], True, False
    for seq, obs in steps:
        if obs is None:
            out.lost.append(seq)
        _step(new, seq, obs, rules, out)
    if stalling:
        for label in sorted(new.open):
            if new.confirmed.get(label):
                _close(new, label, REASON_STALLED, out)
            else:
                _forget(new, label)
        new.stalled = True
        out.transitions.append(Transition(STREAM_STALLED, None, carry.stream_id, at_seconds=_stream_end(new, present)))
    new.lost = (new.lost + out.lost)[-LOST_MEMORY:]
    return out


def _first_start(present: Mapping[int, Observation]) -> float:
    return present[min(present)].start_seconds


def _stream_end(carry: Carry, present: Mapping[int, Observation]) -> float | None:
    if present:
        last = present[max(present)]
        return last.start_seconds + last.duration_seconds
    return None


def episodes_of(stream_id: str, observations: Iterable[Observation], rules: EpisodeRules, stalled: bool = False) -> list[Episode]:
    """The episodes of a complete timeline, in one fold (the reference the tests compare against).

    With ``stalled`` the timeline is over: holes are lost and open episodes close as stalled.
    """
    observations = list(observations)
    if not observations:
        return []
    latest = max(obs.recorded_at for obs in observations)
    result = advance(
        Carry(stream_id=stream_id), observations, now=latest + rules.lateness_seconds + 1, rules=rules,
        stall_after_seconds=0.0 if stalled else None,
    )
    found = dict(result.changed)
    for label, episode in result.carry.open.items():
        if result.carry.confirmed.get(label):
            found[episode.key] = episode
    return [found[key] for key in sorted(found)]


# --- Events -----------------------------------------------------------------------------------------


def event_detail(transition: Transition, stream_seconds_now: float | None = None) -> dict[str, Any]:
    """The ``detail`` of the EventBridge event for a transition."""
    if transition.episode is not None:
        return {**transition.episode.to_json(), "event_id": transition.event_id}
    return {
        "stream_id": transition.stream_id,
        "at_seconds": transition.at_seconds,
        "event_id": transition.event_id,
    }
