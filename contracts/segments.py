"""The validated segment: what ``ValidateSegment`` hands to the rest of the workflow.

Naming rules for segment keys (documented in the README):

``<stream_prefix>/<stream id>/<name><sequence>.ts``

- the stream id is the key's folder below the stream prefix (nested folders are
  kept: ``live/cam-1/east/seg_00001.ts`` has stream id ``cam-1/east``);
- the sequence number is the last run of digits in the file name. MediaLive names
  HLS segments ``<name modifier>_<8 digits>.ts`` (for example
  ``channel_00000123.ts``), ffmpeg's HLS muxer ``<name><n>.ts``; both fit.
"""

from __future__ import annotations

import datetime
import posixpath
import re
from dataclasses import asdict, dataclass
from enum import Enum

from contracts.mpegts import PTS_HZ, PTS_WRAP


class RejectionReason(str, Enum):
    """Machine-readable reasons for a rejected segment (the DLQ message carries one)."""

    NOT_A_SEGMENT = "NOT_A_SEGMENT"  # suffix is not .ts (in any case), and not a playlist
    OUTSIDE_PREFIX = "OUTSIDE_PREFIX"  # key is not under the stream prefix, or has no stream folder
    BAD_STREAM_ID = "BAD_STREAM_ID"  # the stream folder has an empty, "." or ".." path segment
    NO_SEQUENCE = "NO_SEQUENCE"  # file name carries no sequence number
    SEQUENCE_TOO_LARGE = "SEQUENCE_TOO_LARGE"  # more than MAX_SEQUENCE_DIGITS digits
    TOO_SMALL = "TOO_SMALL"  # fewer bytes than one MPEG-TS packet run
    TOO_LARGE = "TOO_LARGE"  # more bytes than the configured maximum
    NOT_MPEG_TS = "NOT_MPEG_TS"  # sync bytes missing at 188-byte boundaries
    OBJECT_MISSING = "OBJECT_MISSING"  # deleted before it was processed
    OBJECT_REPLACED = "OBJECT_REPLACED"  # overwritten (unversioned bucket) before it was processed
    MALFORMED_EVENT = "MALFORMED_EVENT"  # not an S3 Object Created event


#: Segment file suffix, compared case-insensitively (``seg_1.TS`` is a segment).
SEGMENT_SUFFIX = ".ts"
#: Playlists under the prefix are not segments: they end at once, with no record and no dead letter.
PLAYLIST_SUFFIXES = (".m3u8", ".M3U8")
#: The longest sequence number accepted: 12 digits of 10-second segments is 317,000 years of
#: stream, and keeps ``sequence x segment seconds`` exact in a float and in a DynamoDB Number.
MAX_SEQUENCE_DIGITS = 12


def stream_folder(stream_prefix: str, stream_id: str = "") -> str:
    """The key prefix of all segments (``live/``) or of one stream's (``live/cam-1/``), slashes normalised.

    The one place a configured prefix (``live``, ``/live/`` ...) becomes a key prefix.
    """
    prefix = stream_prefix.strip("/")
    return f"{prefix}/{stream_id.strip('/')}/" if stream_id else f"{prefix}/"


#: Prefix of the errors the validation Lambda raises for a rejected segment: the error's
#: name is ``SegmentRejected.<REASON>`` (Lambda reports an error under its exception's
#: class name), so the reason reaches the dead-letter message as data, not as text to parse.
#: The workflow's Catch takes every error (``States.ALL``) to the dead-letter queue.
SEGMENT_REJECTED_ERROR = "SegmentRejected"


def rejection_error(reason: RejectionReason) -> str:
    """The error name the workflow sees for a segment rejected for ``reason``."""
    return f"{SEGMENT_REJECTED_ERROR}.{reason.value}"


def rejection_reason(error: str) -> RejectionReason | None:
    """The reason carried by an error name, or None for any other error."""
    prefix, _, reason = (error or "").partition(".")
    if prefix != SEGMENT_REJECTED_ERROR or reason not in RejectionReason.__members__:
        return None
    return RejectionReason(reason)


@dataclass(frozen=True)
class Segment:
    """A segment that passed validation, as the Lambda returns it."""

    stream_id: str
    sequence: int
    bucket: str
    key: str
    s3_uri: str
    size: int
    etag: str
    #: S3 version id when the bucket is versioned, else ``etag:<etag>``: the
    #: identity of the uploaded bytes, used to ignore a repeated delivery.
    object_version: str
    #: S3 version id ("" in an unversioned bucket): the endpoint reads exactly this version,
    #: or, without one, only an object whose ETag is still ``etag`` (``IfMatch``).
    version_id: str
    #: The S3 event's ``sequencer``, normalised by :func:`normalise_sequencer`: orders the
    #: uploads of one key, so that an older upload never replaces a newer record.
    sequencer: str
    #: Start of the segment on the stream clock (:func:`stream_clock`), seconds.
    start_seconds: float
    duration_seconds: float
    #: Which clock gave ``start_seconds``: :data:`CLOCK_PTS` or :data:`CLOCK_SEQUENCE`.
    stream_clock: str
    #: Wall-clock start, ISO 8601 UTC (:func:`wall_clock`), and which source gave it.
    wall_time: str
    wall_clock: str
    #: Unix time (seconds) after which DynamoDB's TTL may delete the record.
    expires_at: int

    def to_dict(self) -> dict:
        return asdict(self)


#: Width sequencers are padded to. S3: "the event with the greater sequencer value (hexadecimal)
#: happened later; right-pad the shorter one with zeros, then compare the strings."
SEQUENCER_WIDTH = 32


def normalise_sequencer(sequencer: str | None) -> str:
    """Upper-case hex, right-padded with zeros: plain string order is then S3's event order.

    An event without one (started by hand) sorts before every real upload: it never
    replaces a record.
    """
    value = (sequencer or "").strip().upper()[:SEQUENCER_WIDTH]
    if any(c not in "0123456789ABCDEF" for c in value):
        value = ""
    return value.ljust(SEQUENCER_WIDTH, "0")


# --- Time -------------------------------------------------------------------------------------------

#: ``stream_clock`` values: the segment's first PTS, or its sequence number x the segment length.
CLOCK_PTS = "pts"
CLOCK_SEQUENCE = "sequence"
#: ``wall_clock`` values: the playlist's EXT-X-PROGRAM-DATE-TIME, or the upload time less the duration.
WALL_PROGRAM_DATE_TIME = "program-date-time"
WALL_UPLOAD_TIME = "upload-time"
#: The PTS clock applies while it places the segment in its own slot of the sequence clock: within
#: half a segment of ``sequence x length``, widened by this share of the elapsed stream time for
#: sources whose segments are not exactly the configured length (a 10.01 s segment drifts 0.1 %).
#: A PTS outside (a source whose timestamps restart or start elsewhere) is not continuous.
CLOCK_DRIFT = 0.01


def stream_clock(sequence: int, segment_seconds: float, pts: int | None) -> tuple[float, str]:
    """The segment's start on the stream clock and the clock used (:data:`CLOCK_PTS` / :data:`CLOCK_SEQUENCE`).

    ``pts`` is the first video PTS in 90 kHz ticks (``None`` when the segment carries none);
    the 33-bit PTS wraps every 26.5 hours and is unwrapped to the turn nearest the nominal start.
    The result depends on the segment alone, never on which segments arrived before it.
    """
    nominal = float(sequence * segment_seconds)
    if pts is None:
        return nominal, CLOCK_SEQUENCE
    wrap = PTS_WRAP / PTS_HZ
    seconds = pts / PTS_HZ
    seconds += round((nominal - seconds) / wrap) * wrap
    if abs(seconds - nominal) > max(segment_seconds / 2, CLOCK_DRIFT * nominal):
        return nominal, CLOCK_SEQUENCE
    return round(seconds, 6), CLOCK_PTS


_SEQUENCE_SUFFIX = re.compile(r"[_-]?\d+\.ts$", re.IGNORECASE)
PLAYLIST_SUFFIX = ".m3u8"


def playlist_key(segment_key: str) -> str:
    """The media playlist that lists a segment: its name less the sequence number (and a ``_`` or ``-``
    before it), ``.m3u8``, in the same folder.

    MediaLive's ``live/cam-1/channel_720p_00000012.ts`` is listed in ``live/cam-1/channel_720p.m3u8``;
    the local stream's ``live/cam-1/segment_00012.ts`` in ``live/cam-1/segment.m3u8``.
    """
    folder, name = posixpath.split(segment_key)
    return posixpath.join(folder, (_SEQUENCE_SUFFIX.sub("", name) or "index") + PLAYLIST_SUFFIX)


def wall_clock(
    program_date_time: datetime.datetime | None, uploaded_at: datetime.datetime, duration_seconds: float
) -> tuple[str, str]:
    """The segment's wall-clock start (ISO 8601, UTC, milliseconds) and its source.

    The playlist's ``EXT-X-PROGRAM-DATE-TIME`` for the segment when the source writes one
    (:data:`WALL_PROGRAM_DATE_TIME`), else the upload time less the duration: a live source
    uploads a segment once it is complete (:data:`WALL_UPLOAD_TIME`).
    """
    if program_date_time is not None:
        start, source = program_date_time, WALL_PROGRAM_DATE_TIME
    else:
        start, source = uploaded_at - datetime.timedelta(seconds=duration_seconds), WALL_UPLOAD_TIME
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.timezone.utc)
    text = start.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z"), source
