"""Decoding a segment with PyAV (FFmpeg): probe its facts, then decode only the frames needed.

One reading strategy, exact by construction: **decode forward from the last IDR
keyframe at or before the first needed frame to the last needed frame, and let
FFmpeg skip the non-reference frames the clip does not keep**.

- Where decoding begins. For MPEG-TS with H.264, :func:`ts_index` finds the IDR
  keyframes in the packets; decoding starts at that keyframe's packet. An IDR
  needs nothing before it, so the frames from there on are exactly the full
  file's. Without a known keyframe after frame 0 (another container, HEVC, a
  clip inside the first GOP), or if the decoder does not start cleanly there,
  decoding begins at frame 0.
- What is skipped. Each packet is sent with FFmpeg's ``skip_frame``: ``NONREF``
  for a frame the clip does not keep (a non-reference frame is never used to
  decode another, so nothing kept changes), ``DEFAULT`` for a kept one. With the
  clip's step of 2, about a sixth of the frames walked are never decoded
  (89 of 106 decoded on the 1080p bench segment). Once every kept frame's
  packet is sent, the decoder is drained, not fed further. OpenCV's capture
  passes no decoder options, which is why the reader uses PyAV.
- Which frame is which: a frame's index is the rank of its timestamp among the
  video packets' timestamps (presentation order). Without timestamps on every
  packet, when the decoder dropped frames (a segment that does not begin
  with an IDR: FFmpeg shows nothing before the first keyframe), or when a frame
  comes out with a timestamp no packet has, nothing is skipped and frames are
  numbered in the order they come, as :meth:`SegmentReader.count_frames` counts
  them.
- Only the MPEG-TS demuxer (unless ``mpegts_only`` is False) and only the file
  protocol: a segment can never make FFmpeg open another file or a URL.

Kept frames are converted to RGB24 by FFmpeg's swscale (the order the model
was trained on): at full size or, given a ``size``, scaled to it in the same
pass, exactly as GluonCV's reader (decord 0.6, FFmpeg 4.1) makes its 340x256
frames: FFmpeg's scale filter with its default bilinear filter, to RGB24. The
colour is thus converted on the small frame, not on the full 1920x1080 one, and
no second resize follows. The tests decode every frame of real segments
(640x272, 1280x720, 1920x1080, HEVC, with audio) with the ffmpeg command,
independently, and check that the frames returned here are bit-identical to
the ones at the intended indices, on every branch above, at full size and
scaled; and, on the sample MP4, bit-identical to decord's.
"""

import contextlib
import os
import weakref
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import av
import numpy as np

from contracts import mpegts
from contracts.environment import MMS_WORKERS, OMP_THREADS
from inference import errors

#: swscale's filter when frames are scaled: bilinear, the default of the FFmpeg 4 scale filter
#: that GluonCV's reader (decord) scales with.
SCALE_INTERPOLATION = "BILINEAR"


def decoder_threads(environ: Mapping[str, str] = os.environ) -> int:
    """FFmpeg's decoder threads for this worker: 1 when it is one of several MMS workers with one
    OpenMP thread each (the endpoint's one worker per vCPU), else 0 (FFmpeg's own choice).

    0 lets FFmpeg choose (one more thread than the CPUs, frame threading): the lowest latency
    for a lone segment, right for a worker that has the machine to itself (the local stack,
    serverless mode, a GPU instance's worker). Where several single-threaded workers share the
    instance, each decodes a segment of its own when it is busy, and frame threads mostly add
    CPU: with both cores decoding, single-threaded workers got through 1.10x-1.20x the segments
    at 640x272 and 1.00x-1.10x at 720p and 1080p (two runs), while a lone 1080p read took
    0.89 s against 0.59 s (``python -m bench.decode_threads``,
    ``bench/results/decode-threads.md``). A small gain where the endpoint is busy, which is
    what it is sized for, paid for in a lone request's latency. Both variables
    are read in the worker, after AWS's toolkit has filled in its default ``OMP_NUM_THREADS=1``:
    that default alone (one worker) does not make the decoder single-threaded.
    """
    try:
        workers = int(environ.get(MMS_WORKERS, "") or 1)
    except ValueError:
        workers = 1
    return 1 if workers > 1 and environ.get(OMP_THREADS, "").strip() == "1" else 0


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


class _Gaps(Exception):
    """Numbered by timestamp, the frames did not fit the packets: some wanted ones never came out
    of the decoder, or one came out with a timestamp no packet has."""


class _DidNotStartCleanly(Exception):
    """Decoding from a keyframe gave something other than that keyframe first."""


@dataclass(frozen=True)
class ReadStats:
    """How the last :meth:`SegmentReader.read` went (for tests and benchmarks)."""

    #: The frame decoding began at.
    start: int
    #: Frames from ``start`` to the last one needed, which a plain walk would decode.
    walked: int
    #: Frames the decoder actually produced.
    decoded: int
    #: Packets sent to the decoder (from ``start``'s, in decode order).
    sent: int


class SegmentReader:
    """An open video file; use as a context manager."""

    def __init__(self, path: str, mpegts_only: bool = True):
        """Open ``path``; unless ``mpegts_only`` is False (tests, benchmarks on local files), anything
        that is not MPEG-TS with a video stream is refused before FFmpeg sees it."""
        self.path = path
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            self.ts = ts_index(data)
        except (IndexError, ValueError):  # a packet table cut short
            self.ts = None
        if self.ts is None and mpegts_only:
            # Refused before FFmpeg sees the bytes: left to guess, FFmpeg would pick its demuxer from
            # the content, and a playlist (.m3u8), a concat script or an SDP file makes it read other
            # files or URLs. The container is then opened with the MPEG-TS demuxer named.
            raise errors.InferenceError(
                errors.NOT_A_VIDEO, "the object is not an MPEG-TS segment with a video stream", 422
            )
        self._format = "mpegts" if self.ts is not None else None
        self.last_read: Optional[ReadStats] = None
        self._probed: Optional[Tuple["av.container.InputContainer", "av.video.stream.VideoStream"]] = None
        self.facts = self._probe()

    def _open_container(self) -> Tuple["av.container.InputContainer", "av.video.stream.VideoStream"]:
        """The container, opened, and the video stream to decode, its decoder set up."""
        try:
            container = av.open(self.path, format=self._format, options={"protocol_whitelist": "file"})
        except av.error.FFmpegError:
            raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment's video stream does not decode", 422)
        try:
            if not container.streams.video:
                raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment has no video stream", 422)
            stream = container.streams.video[0]
            if self.ts is not None:
                # The stream whose packets ts_index counted and indexed (FFmpeg names streams by
                # PID), not FFmpeg's first: a program table may list several.
                stream = next((s for s in container.streams.video if s.id == self.ts.video_pid), None)
                if stream is None:
                    raise errors.InferenceError(
                        errors.CORRUPT_VIDEO, "the segment's video stream (PID {}) does not decode".format(self.ts.video_pid), 422
                    )
            if stream.codec_context is None:  # no decoder for this codec
                raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment's video codec is not supported", 422)
            stream.thread_type = "AUTO"
            stream.thread_count = decoder_threads()
        except BaseException:
            _close(container)
            raise
        return container, stream

    @contextlib.contextmanager
    def _open(self) -> Iterator[Tuple["av.container.InputContainer", "av.video.stream.VideoStream"]]:
        """The container the probe left open (nothing read from it yet), else the file opened again."""
        opened, self._probed = self._probed, None
        if opened is None:
            opened = self._open_container()
        else:
            self._unclosed.detach()  # closed below instead
        try:
            yield opened
        finally:
            _close(opened[0])

    def _probe(self) -> VideoFacts:
        """The stream's facts, from the container's header. The container stays open for the first
        read: FFmpeg keeps the packets it probed, so demuxing it yields every packet from the start,
        and a request opens the segment once (about 9 ms at 1080p)."""
        container, stream = self._open_container()
        try:
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            if self.ts is not None:
                frame_count = self.ts.frame_count
            else:  # the container's count (MP4 has it), else duration x fps
                duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
                frame_count = stream.frames or int(round(duration * fps))
            facts = VideoFacts(
                frame_count=frame_count, fps=fps,
                width=int(stream.codec_context.width or 0), height=int(stream.codec_context.height or 0),
            )
            if facts.width <= 0 or facts.height <= 0 or facts.fps <= 0:
                raise errors.InferenceError(errors.CORRUPT_VIDEO, "the segment's video stream does not decode", 422)
        except BaseException:
            _close(container)
            raise
        self._probed = (container, stream)
        # A reader left without close() (no ``with``, or no read) still closes it when collected.
        self._unclosed = weakref.finalize(self, _close, container)
        return facts

    def close(self) -> None:
        """Close the container the probe left open, if no read has used it."""
        self._probed = None
        self._unclosed()  # a no-op once a read took the container (detached) or it already ran

    def __enter__(self) -> "SegmentReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_frame(self, first_wanted: int) -> int:
        """The frame reading begins at: the last IDR keyframe at or before ``first_wanted``, else 0."""
        keyframes = self.ts.keyframes if self.ts else []
        return max((frame for frame, _ in keyframes if frame <= first_wanted), default=0)

    def count_frames(self) -> int:
        """Count by decoding every frame of the whole file (used when the container's count is wrong)."""
        with self._open() as (container, stream):
            try:
                return sum(1 for _ in container.decode(stream))
            except av.error.FFmpegError:
                return 0

    def read(self, indices: Iterable[int], size: Optional[Tuple[int, int]] = None) -> Dict[int, np.ndarray]:
        """The frames at ``indices`` (0-based), RGB, at full size or scaled to ``size`` (width, height).

        Raises ``EOFError`` if the video ends before the last index, or a frame does not decode.
        """
        wanted = sorted(set(indices))
        if not wanted:
            return {}
        start = self.start_frame(wanted[0])
        if start > 0:
            try:
                return self._decode(start, wanted, size)
            except (_DidNotStartCleanly, _Gaps, av.error.FFmpegError):
                pass  # read from frame 0 instead
        try:
            try:
                return self._decode(0, wanted, size)
            except _Gaps:
                # The decoder dropped frames (a segment that does not begin with an IDR: FFmpeg
                # shows nothing before the first keyframe), so timestamps leave holes, or it gave
                # a frame a timestamp of its own: number the frames in the order they come, as
                # count_frames() counts them.
                return self._decode(0, wanted, size, by_timestamp=False)
        except av.error.FFmpegError as error:
            raise EOFError("the video does not decode: {}".format(error))

    def _decode(self, start: int, wanted: List[int], size: Optional[Tuple[int, int]], by_timestamp: bool = True) -> Dict[int, np.ndarray]:
        with self._open() as (container, stream):
            packets = [packet for packet in container.demux(stream) if packet.size]
            timestamps = [packet.pts for packet in packets]
            ranked = by_timestamp and None not in timestamps and len(set(timestamps)) == len(timestamps)
            rank = {pts: index for index, pts in enumerate(sorted(timestamps))} if ranked else {}
            position = 0
            if start > 0:
                # The IDR's decode position equals its presentation index (nothing after an IDR
                # is shown before it); anything else means the index does not fit these packets.
                if not ranked or len(packets) != self.ts.frame_count or rank[packets[start].pts] != start:
                    raise _DidNotStartCleanly()
                position = start
            codec = stream.codec_context
            scale = {"width": size[0], "height": size[1], "interpolation": SCALE_INTERPOLATION} if size else {}
            missing = set(wanted)
            frames: Dict[int, np.ndarray] = {}
            decoded = 0

            def keep(output) -> None:
                nonlocal decoded
                for frame in output:
                    index = rank.get(frame.pts) if ranked else start + decoded
                    if index is None:  # the decoder lost the frame's timestamp, or made one up
                        raise _DidNotStartCleanly() if start > 0 else _Gaps()
                    if decoded == 0 and start > 0 and not (index == start and frame.key_frame):
                        raise _DidNotStartCleanly()
                    decoded += 1
                    if index in missing:
                        frames[index] = rgb_array(frame, **scale)
                        missing.discard(index)

            # The kept frames' packets not yet sent. Once there are none, the decoder is drained
            # rather than fed: it holds frames back (B-frame reordering, one per frame thread), so
            # the last kept frames come out a few packets late, and those packets would be decoded
            # for nothing.
            unsent = {packet.pts for packet in packets[position:] if rank[packet.pts] in missing} if ranked else None
            sent = 0
            for packet in packets[position:]:
                if ranked:
                    if not unsent:
                        break
                    codec.skip_frame = "DEFAULT" if packet.pts in unsent else "NONREF"
                    unsent.discard(packet.pts)
                keep(codec.decode(packet))
                sent += 1
                if not missing:
                    break
            if missing:
                codec.skip_frame = "DEFAULT"
                keep(codec.decode(None))
        self.last_read = ReadStats(start=start, walked=wanted[-1] - start + 1, decoded=decoded, sent=sent)
        if missing:
            # Numbered in the order they come, every frame before start + decoded was produced, so
            # what is missing lies past the end.
            ended = len(packets) if ranked else start + decoded
            if ranked and min(missing) < ended:
                raise _Gaps()
            raise EOFError("video ended at frame {} before frame {}".format(ended, wanted[-1]))
        return frames


def _close(container: "av.container.InputContainer") -> None:
    # PyAV's container and its streams refer to each other, so the decoder (its threads and frame
    # pool, about 40 MB at 1080p) would otherwise live until the garbage collector finds the
    # cycle: a worker's memory grew by hundreds of MB over 40 segments.
    try:
        for stream in container.streams.video:
            context = stream.codec_context
            if context is not None and context.is_open:
                context.close()
    finally:
        container.close()


def rgb_array(frame: "av.VideoFrame", **scale) -> np.ndarray:
    """``frame`` as a contiguous RGB ``(H, W, 3)`` uint8 array, converted (and scaled) by swscale.

    Read from the converted frame's plane rather than with ``VideoFrame.to_ndarray``, which
    searches the import path twice for a module that does not exist on every call (PyAV 12).
    """
    image = frame.reformat(format="rgb24", **scale)
    plane = image.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(image.height, plane.line_size)
    return rows[:, : image.width * 3].reshape(image.height, image.width, 3).copy()


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
    #: The video stream's PID: the stream counted here is the one decoded.
    video_pid: int
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
                    return TsIndex(frame_count=len(frame_rows), video_pid=int(video_pid), keyframes=keyframes, tables=tables)
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

