"""Pure checks on a segment's key and bytes (no AWS calls): easy to test, easy to read."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from contracts import mpegts
from contracts.segments import MAX_SEQUENCE_DIGITS, SEGMENT_SUFFIX, RejectionReason, rejection_error, stream_folder

#: Packets checked at the start of the object (a ranged GET of this many bytes).
TS_PACKETS_CHECKED = 5
TS_HEADER_BYTES = mpegts.PACKET_SIZE * TS_PACKETS_CHECKED
#: Bytes read from the start (one ranged GET): the checked packets and enough more to reach the
#: first video PES header after the PAT/PMT (and a PCR-only packet or two), for the first PTS.
TS_READ_BYTES = mpegts.PACKET_SIZE * 32

_SEQUENCE = re.compile(r"(\d+)(?!.*\d)")


class SegmentRejected(Exception):
    """The object is not a segment this pipeline accepts.

    ``SegmentRejected(reason, detail)`` is an instance of the subclass named
    ``SegmentRejected.<REASON>`` (:func:`contracts.segments.rejection_error`):
    Lambda reports the error under that name, so the workflow and the
    dead-letter message carry the reason as the error's name. The message is
    the human detail only.
    """

    reason: RejectionReason

    def __new__(cls, reason: RejectionReason, detail: str):
        return super().__new__(_BY_REASON[reason] if cls is SegmentRejected else cls)

    def __init__(self, reason: RejectionReason, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


_BY_REASON = {
    reason: type(rejection_error(reason), (SegmentRejected,), {"__module__": __name__, "__qualname__": rejection_error(reason)})
    for reason in RejectionReason
}


def rejection_class(reason: RejectionReason) -> type[SegmentRejected]:
    """The exception class of a rejection for ``reason`` (named ``SegmentRejected.<REASON>``)."""
    return _BY_REASON[reason]


@dataclass(frozen=True)
class SegmentKey:
    stream_id: str
    sequence: int


def parse_key(key: str, stream_prefix: str) -> SegmentKey:
    """Derive the stream id and sequence number from an object key.

    ``live/cam 1/seg_00042.ts`` under prefix ``live`` is stream ``cam 1``,
    sequence 42. The key is used exactly as stored (spaces, ``+`` and non-ASCII
    characters are ordinary characters here); the ``.ts`` suffix may be in any
    case. A stream folder with an empty, ``.`` or ``..`` path segment is refused
    (``BAD_STREAM_ID``) rather than guessed at: such keys are typos or path tricks,
    and S3 keeps them distinct from the key they look like.
    """
    if not key.lower().endswith(SEGMENT_SUFFIX):
        raise SegmentRejected(RejectionReason.NOT_A_SEGMENT, f"{key!r} does not end in {SEGMENT_SUFFIX}")
    folder_prefix = stream_folder(stream_prefix)
    prefix = folder_prefix.rstrip("/")
    if prefix and not key.startswith(folder_prefix):
        raise SegmentRejected(RejectionReason.OUTSIDE_PREFIX, f"{key!r} is not under {folder_prefix!r}")
    relative = key[len(folder_prefix):] if prefix else key
    folder, name = posixpath.split(relative)
    if not folder:
        raise SegmentRejected(
            RejectionReason.OUTSIDE_PREFIX, f"{key!r} has no stream folder: expected {prefix}/<stream id>/<name>.ts"
        )
    parts = relative.split("/")[:-1]
    if any(part in ("", ".", "..") for part in parts):
        raise SegmentRejected(
            RejectionReason.BAD_STREAM_ID,
            f"{key!r}: the stream folder {'/'.join(parts)!r} has an empty, '.' or '..' path segment",
        )
    match = _SEQUENCE.search(name[: -len(SEGMENT_SUFFIX)])
    if not match:
        raise SegmentRejected(RejectionReason.NO_SEQUENCE, f"{name!r} carries no sequence number")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > MAX_SEQUENCE_DIGITS:
        raise SegmentRejected(
            RejectionReason.SEQUENCE_TOO_LARGE,
            f"{name[:40]!r}...: a sequence of {len(digits)} digits (at most {MAX_SEQUENCE_DIGITS})",
        )
    return SegmentKey(stream_id="/".join(parts), sequence=int(digits))


def check_size(size: int, max_bytes: int) -> None:
    if size < TS_HEADER_BYTES:
        raise SegmentRejected(
            RejectionReason.TOO_SMALL, f"{size} bytes is less than {TS_PACKETS_CHECKED} MPEG-TS packets"
        )
    if size > max_bytes:
        raise SegmentRejected(RejectionReason.TOO_LARGE, f"{size} bytes is more than the limit of {max_bytes}")


def check_mpeg_ts(header: bytes) -> None:
    """The sync byte must open each of the first packets."""
    for packet in range(TS_PACKETS_CHECKED):
        offset = packet * mpegts.PACKET_SIZE
        if offset >= len(header) or header[offset] != mpegts.SYNC_BYTE:
            raise SegmentRejected(
                RejectionReason.NOT_MPEG_TS,
                f"no MPEG-TS sync byte 0x47 at offset {offset} (packet {packet})",
            )
