"""Decoding a segment with OpenCV: probe its facts, then read only the frames needed.

Reading is exact: the reader seeks (``CAP_PROP_POS_FRAMES``) to the first frame
needed, then walks forward, ``grab()``-ing frames it skips (no colour
conversion) and ``retrieve()``-ing the ones it keeps. The tests decode every
frame of real ``.ts`` segments sequentially and check that the frames returned
here are bit-identical to the ones at the intended indices.
"""

from dataclasses import asdict, dataclass
from typing import Callable, Dict, Iterable, List, Optional

import cv2
import numpy as np

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

    def __init__(self, path: str):
        self.path = path
        self.capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        if not self.capture.isOpened():
            self.capture.release()
            raise errors.InferenceError(errors.NOT_A_VIDEO, "the object is not a video OpenCV can decode", 422)
        self.facts = self._probe()

    def _probe(self) -> VideoFacts:
        capture = self.capture
        exact = ts_video_frame_count(self.path)
        facts = VideoFacts(
            frame_count=exact if exact is not None else int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        if facts.width <= 0 or facts.height <= 0 or facts.fps <= 0:
            raise errors.InferenceError(errors.NOT_A_VIDEO, "the object has no decodable video stream", 422)
        return facts

    def __enter__(self) -> "SegmentReader":
        return self

    def __exit__(self, *exc) -> None:
        self.capture.release()

    def count_frames(self) -> int:
        """Decode-free count by grabbing every frame (used when the container's count is wrong)."""
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        count = 0
        while self.capture.grab():
            count += 1
        return count

    def read(self, indices: Iterable[int], on_frame: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Dict[int, np.ndarray]:
        """The frames at ``indices`` (0-based), each passed through ``on_frame`` (resize, say).

        Raises ``EOFError`` if the video ends before the last index.
        """
        wanted_set = set(indices)
        wanted = sorted(wanted_set)
        if not wanted:
            return {}
        frames: Dict[int, np.ndarray] = {}
        capture = self.capture
        if wanted[0] > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, wanted[0])
        position = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
        if position != wanted[0]:
            # The seek failed (seen on MPEG-TS with an audio track: the position reads
            # as garbage and the capture stops decoding). Reopen and walk from frame 0.
            capture.release()
            capture = self.capture = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
            position = 0
        for index in range(position, wanted[-1] + 1):
            if not capture.grab():
                raise EOFError("video ended at frame {} before frame {}".format(index, wanted[-1]))
            if index not in wanted_set:
                continue
            ok, frame = capture.retrieve()
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

TS_PACKET = 188
_VIDEO_STREAM_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24}  # MPEG-1/2, MPEG-4 part 2, H.264, HEVC


def _section(packet: bytes) -> bytes:
    """The PSI section carried by a packet that starts one (skips adaptation field and pointer)."""
    offset = 4
    if packet[3] & 0x20:  # adaptation field present
        offset += 1 + packet[4]
    offset += 1 + packet[offset]  # pointer_field
    return packet[offset:]


def ts_video_frame_count(path: str) -> Optional[int]:
    """Frames of the first video stream of an MPEG-TS file, or ``None`` if not MPEG-TS."""
    with open(path, "rb") as handle:
        data = handle.read()
    usable = len(data) - len(data) % TS_PACKET
    if usable == 0:
        return None
    packets = np.frombuffer(data[:usable], dtype=np.uint8).reshape(-1, TS_PACKET)
    if not np.all(packets[:, 0] == 0x47):
        return None
    pids = ((packets[:, 1].astype(np.int32) & 0x1F) << 8) | packets[:, 2]
    starts = (packets[:, 1] & 0x40) != 0
    pmt_pids = set()
    for row in np.nonzero((pids == 0) & starts)[0][:1]:  # PAT
        section = _section(packets[row].tobytes())
        length = ((section[1] & 0x0F) << 8) | section[2]
        entries = section[8 : 3 + length - 4]
        for i in range(0, len(entries) - 3, 4):
            program = (entries[i] << 8) | entries[i + 1]
            if program != 0:
                pmt_pids.add(((entries[i + 2] & 0x1F) << 8) | entries[i + 3])
    for pmt_pid in pmt_pids:
        for row in np.nonzero((pids == pmt_pid) & starts)[0][:1]:
            section = _section(packets[row].tobytes())
            length = ((section[1] & 0x0F) << 8) | section[2]
            info_length = ((section[10] & 0x0F) << 8) | section[11]
            position, end = 12 + info_length, 3 + length - 4
            while position + 5 <= end:
                stream_type = section[position]
                elementary_pid = ((section[position + 1] & 0x1F) << 8) | section[position + 2]
                if stream_type in _VIDEO_STREAM_TYPES:
                    return int(np.count_nonzero((pids == elementary_pid) & starts))
                position += 5 + (((section[position + 3] & 0x0F) << 8) | section[position + 4])
    return None
