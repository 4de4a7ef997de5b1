"""The wall clock a source writes in its HLS playlist (``EXT-X-PROGRAM-DATE-TIME``), read with the m3u8 library.

A live source uploads a segment, then rewrites the playlist that lists it; so
when a segment's event arrives the playlist lists the segment or, not yet, the
one before it. The segment's date is its own entry's, else the previous entry's
plus that entry's ``EXTINF`` duration (HLS: dates run on with the durations
until a discontinuity). Anything else (no playlist, no date in it, the segment
too far from its end: a late or redriven segment) gives ``None``, and the
caller falls back to the upload time.
"""

from __future__ import annotations

import datetime
import posixpath
import re

import m3u8

#: Playlists larger than this are not read (a live playlist lists a few dozen segments).
MAX_PLAYLIST_BYTES = 1024 * 1024

_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def _sequence(uri: str) -> int | None:
    match = _DIGITS.search(posixpath.basename(uri.split("?")[0]))
    return int(match.group(1)) if match else None


def program_date_time(playlist_text: str, segment_name: str, sequence: int) -> datetime.datetime | None:
    """The wall-clock start the playlist gives the segment ``segment_name`` (sequence ``sequence``), or None."""
    segments = m3u8.loads(playlist_text).segments
    for entry in segments:
        if posixpath.basename(entry.uri or "") == segment_name:
            return entry.current_program_date_time
    if segments:
        last = segments[-1]
        if last.current_program_date_time is not None and _sequence(last.uri or "") == sequence - 1:
            return last.current_program_date_time + datetime.timedelta(seconds=float(last.duration or 0))
    return None
