"""Decoding a segment with OpenCV: probe its facts, then read only the frames needed.

One reading strategy, exact by construction: **decode forward from the last IDR
keyframe at or before the first needed frame**, ``grab()``-ing the frames it
skips (decoded, never colour-converted) and ``retrieve()``-ing the ones it
keeps, and stop after the last one needed.

- Where reading begins. For MPEG-TS with H.264, :func:`ts_index` finds the IDR
  keyframes in the packets; the file is cut at that keyframe's packet with the
  PAT and PMT in front, and the cut is opened. An IDR needs nothing before it
  to decode, so the cut's frames are exactly the full file's from that index on.
  Without a known keyframe after frame 0 (another container, HEVC, or a clip
  inside the first GOP), or if the cut cannot be opened, reading begins at
  frame 0 of the whole file.
- Never OpenCV's own seek (``CAP_PROP_POS_FRAMES``): it re-read the stream
  (0.3-0.4 s on a 10-second 1080p segment) and returned the wrong frame when
  asked for a keyframe's index.

The tests decode every frame of real segments (640x272, 1280x720, 1920x1080,
HEVC, with audio) sequentially and check that the frames returned here are
bit-identical to the ones at the intended indices, on every branch above.
"""

import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import cv2
import numpy as np

from contracts import mpegts
from inference import errors


@dataclass(frozen=True)
class VideoFacts:
    frame_count: int
    fps: float
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0

    def to_dict(self) -> dict:
        facts = asdict(self)
        facts["duration_s"] = round(self.duration_s, 3)
        return facts


class SegmentReader:
    """An open video file; use as a context manager."""

    def __init__(self, path: str, mpegts_only: bool = True):
        """Open ``path``; unless ``mpegts_only`` is False (tests, benchmarks on local files), anything
        that is not MPEG-TS with a video stream is refused before FFmpeg sees it."""
        self.path = path
        self._cut_path: Optional[str] = None
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            self.ts = ts_index(data)
        except (IndexError, ValueError):  # a packet table cut short
            self.ts = None
        if self.ts is None and mpegts_only:
            # Refused before FFmpeg sees the bytes: FFmpeg picks its demuxer from the content, and a
            # playlist (.m3u8), a concat script or an SDP file would make it read other files or URLs.
            # Every 188-byte packet starting with 0x47 leaves it only the MPEG-TS demuxer (the others
            # need a text or box header at byte 0), and the file is always named .ts.
            raise errors.InferenceError(
                errors.NOT_A_VIDEO, "the object is not an MPEG-TS segment with a video stream", 422
            )
        self.capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        #: Whether ``capture`` still stands at frame 0 of the whole file (nothing grabbed yet).
        self._at_start = True
        if not self.capture.isOpened():
            self.capture.release()
            raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment's video stream does not decode", 422)
        self.facts = self._probe()

    def _probe(self) -> VideoFacts:
        capture = self.capture
        exact = self.ts.frame_count if self.ts else None
        facts = VideoFacts(
            frame_count=exact if exact is not None else int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        if facts.width <= 0 or facts.height <= 0 or facts.fps <= 0:
            self.capture.release()
            raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment's video stream does not decode", 422)
        return facts

    def __enter__(self) -> "SegmentReader":
        return self

    def __exit__(self, *exc) -> None:
        self.capture.release()
        self._remove_cut()

    def _remove_cut(self) -> None:
        if self._cut_path:
            os.unlink(self._cut_path)
            self._cut_path = None

    def start_frame(self, first_wanted: int) -> int:
        """The frame reading begins at: the last IDR keyframe at or before ``first_wanted``, else 0."""
        keyframes = self.ts.keyframes if self.ts else []
        return max((frame for frame, _ in keyframes if frame <= first_wanted), default=0)

    def _open_cut(self, frame: int):
        """A capture of the file cut at IDR keyframe ``frame``'s packet, PAT and PMT in front."""
        self._remove_cut()
        with open(self.path, "rb") as handle:
            handle.seek(dict(self.ts.keyframes)[frame] * mpegts.PACKET_SIZE)
            rest = handle.read()
        handle_fd, self._cut_path = tempfile.mkstemp(suffix=".ts", dir=os.path.dirname(self.path) or None)
        with os.fdopen(handle_fd, "wb") as cut:
            cut.write(self.ts.tables + rest)
        return cv2.VideoCapture(self._cut_path, cv2.CAP_FFMPEG)

    def _capture_at(self, frame: int) -> Tuple[object, int]:
        """A capture whose next frame is ``frame`` (or 0, see the module's docstring), and that index."""
        if frame > 0:
            cut = self._open_cut(frame)
            if cut.isOpened():
                self._replace_capture(cut, at_start=False)
                return cut, frame
            cut.release()
        if not self._at_start:
            self._replace_capture(cv2.VideoCapture(self.path, cv2.CAP_FFMPEG), at_start=True)
        return self.capture, 0

    def _replace_capture(self, capture, at_start: bool) -> None:
        self.capture.release()
        self.capture, self._at_start = capture, at_start

    def count_frames(self) -> int:
        """Count by grabbing every frame of the whole file (used when the container's count is wrong)."""
        capture, _ = self._capture_at(0)
        self._at_start = False
        count = 0
        while capture.grab():
            count += 1
        return count

    def read(self, indices: Iterable[int], on_frame: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Dict[int, np.ndarray]:
        """The frames at ``indices`` (0-based), each passed through ``on_frame`` (resize, say).

        Raises ``EOFError`` if the video ends before the last index.
        """
        wanted = sorted(set(indices))
        if not wanted:
            return {}
        capture, start = self._capture_at(self.start_frame(wanted[0]))
        self._at_start = False
        return walk(capture, start, wanted, on_frame)


def walk(capture, start: int, wanted: List[int], on_frame: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Dict[int, np.ndarray]:
    """Grab forward from frame ``start`` of ``capture`` to ``wanted[-1]``, retrieving the ``wanted`` (sorted) frames.

    With ``on_frame`` every kept frame is retrieved into one reused full-size
    buffer (no fresh allocation per frame) and only ``on_frame``'s result is kept.
    """
    wanted_set = set(wanted)
    frames: Dict[int, np.ndarray] = {}
    buffer = None
    for index in range(start, wanted[-1] + 1):
        if not capture.grab():
            raise EOFError("video ended at frame {} before frame {}".format(index, wanted[-1]))
        if index not in wanted_set:
            continue
        if on_frame is None:
            ok, frame = capture.retrieve()
        else:
            ok, buffer = capture.retrieve(buffer)
            frame = buffer
        if not ok:
            raise EOFError("frame {} could not be decoded".format(index))
        frames[index] = on_frame(frame) if on_frame else frame
    return frames


def decode_all(path: str) -> List[np.ndarray]:
    """Every frame in order (for tests and the benchmark's reference)."""
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


# --- Exact frame counts from the MPEG-TS container -----------------------------------
# OpenCV's CAP_PROP_FRAME_COUNT for MPEG-TS is an estimate (duration x fps): on the
# Big Buck Bunny segment with audio it said 133 for 132 frames, which would shift the
# centre clip. HLS muxers (ffmpeg, MediaLive) put one video access unit in each PES
# packet, so counting the video PID's payload-unit starts counts frames exactly,
# without decoding anything.

_VIDEO_STREAM_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24}  # MPEG-1/2, MPEG-4 part 2, H.264, HEVC


def _section(packet: bytes) -> bytes:
    """The PSI section carried by a packet that starts one (after the payload's pointer field)."""
    offset = mpegts.payload_offset(packet)
    offset += 1 + packet[offset]  # pointer_field
    return packet[offset:]


@dataclass(frozen=True)
class TsIndex:
    """What the MPEG-TS packets say about the first video stream, without decoding."""

    frame_count: int
    #: (frame index, packet index) of each random-access point (IDR keyframe), in order.
    keyframes: List[Tuple[int, int]]
    #: The PAT and PMT packets, to prefix a cut that starts at a keyframe.
    tables: bytes


def ts_index(data: bytes) -> Optional[TsIndex]:
    """Index an MPEG-TS file's bytes, or ``None`` if they are not MPEG-TS with a video stream."""
    usable = len(data) - len(data) % mpegts.PACKET_SIZE
    if usable == 0:
        return None
    packets = np.frombuffer(data[:usable], dtype=np.uint8).reshape(-1, mpegts.PACKET_SIZE)
    if not np.all(packets[:, 0] == mpegts.SYNC_BYTE):
        return None
    pids = ((packets[:, 1].astype(np.int32) & 0x1F) << 8) | packets[:, 2]
    starts = (packets[:, 1] & mpegts.PAYLOAD_UNIT_START) != 0
    pat_rows = np.nonzero((pids == 0) & starts)[0][:1]
    pmt_pids = {}
    for row in pat_rows:
        section = _section(packets[row].tobytes())
        length = ((section[1] & 0x0F) << 8) | section[2]
        entries = section[8 : 3 + length - 4]
        for i in range(0, len(entries) - 3, 4):
            program = (entries[i] << 8) | entries[i + 1]
            if program != 0:
                pmt_pids[((entries[i + 2] & 0x1F) << 8) | entries[i + 3]] = None
    for pmt_pid in pmt_pids:
        for pmt_row in np.nonzero((pids == pmt_pid) & starts)[0][:1]:
            section = _section(packets[pmt_row].tobytes())
            length = ((section[1] & 0x0F) << 8) | section[2]
            info_length = ((section[10] & 0x0F) << 8) | section[11]
            position, end = 12 + info_length, 3 + length - 4
            while position + 5 <= end:
                stream_type = section[position]
                video_pid = ((section[position + 1] & 0x1F) << 8) | section[position + 2]
                if stream_type in _VIDEO_STREAM_TYPES:
                    frame_rows = np.nonzero((pids == video_pid) & starts)[0]
                    # random_access_indicator: adaptation field present, non-empty, flag 0x40.
                    has_field = (packets[frame_rows, 3] & mpegts.ADAPTATION_FIELD_PRESENT) != 0
                    random_access = has_field & (packets[frame_rows, 4] > 0) & ((packets[frame_rows, 5] & mpegts.RANDOM_ACCESS) != 0)
                    keyframes = []
                    if stream_type == 0x1B:  # H.264: only IDR pictures start a closed GOP
                        for n in np.nonzero(random_access)[0]:
                            if _starts_with_idr(packets, pids, video_pid, int(frame_rows[n])):
                                keyframes.append((int(n), int(frame_rows[n])))
                    tables = packets[pat_rows[0]].tobytes() + packets[pmt_row].tobytes()
                    return TsIndex(frame_count=len(frame_rows), keyframes=keyframes, tables=tables)
                position += 5 + (((section[position + 3] & 0x0F) << 8) | section[position + 4])
    return None


def _starts_with_idr(packets: np.ndarray, pids: np.ndarray, pid: int, row: int, look: int = 8) -> bool:
    """Whether the PES starting at packet ``row`` holds an H.264 IDR slice (NAL type 5)
    within its first ``look`` packets (SPS, PPS and SEI come first)."""
    rows = [r for r in range(row, min(row + 64, len(packets))) if pids[r] == pid][:look]
    payload = b"".join(mpegts.payload(packets[r].tobytes()) for r in rows)
    position = payload.find(b"\x00\x00\x01")
    while position != -1 and position + 3 < len(payload):
        nal_type = payload[position + 3] & 0x1F
        if nal_type == 5:
            return True
        if nal_type == 1:  # a non-IDR slice came first
            return False
        position = payload.find(b"\x00\x00\x01", position + 3)
    return False

