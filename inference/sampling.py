"""Which frames a clip uses.

This is GluonCV's test-time rule for video classification
(``VideoClsCustom._sample_test_indices`` then ``_video_TSN_decord_batch_loader``,
without temporal jitter), written out so that the frames can be read with
PyAV (``inference/video.py``) and checked one by one:

- a clip spans ``skip_length = clip_length * step`` frames;
- ``num_clips`` clips split the video evenly: ``tick = (N - skip_length + 1) / num_clips``
  and clip ``k`` starts at ``int(tick / 2 + tick * k)``; one clip (``center``) is
  the segment's middle;
- frame ``i`` of a clip is ``start + i * step``; near the end of a short video the
  index stops advancing rather than running past the last frame.
"""

from typing import List


def clip_frame_indices(num_frames: int, clip_length: int = 32, step: int = 1, num_clips: int = 1) -> List[List[int]]:
    """Frame indices (0-based) of each clip, in decoding order."""
    if num_frames < 1:
        raise ValueError("a video needs at least one frame")
    if clip_length < 1 or step < 1 or num_clips < 1:
        raise ValueError("clip_length, step and num_clips must be positive")
    skip_length = clip_length * step
    if num_frames > skip_length - 1:
        tick = (num_frames - skip_length + 1) / float(num_clips)
        offsets = [int(tick / 2.0 + tick * k) for k in range(num_clips)]
    else:
        offsets = [0] * num_clips
    clips = []
    for start in offsets:
        offset = start + 1  # GluonCV counts from 1 here
        indices = []
        for _ in range(clip_length):
            indices.append(min(offset - 1, num_frames - 1))
            if offset + step < num_frames:
                offset += step
        clips.append(indices)
    return clips


def short_video_note(num_frames: int, clip_length: int, step: int) -> str:
    """What was done when the video is shorter than a clip, for the response."""
    needed = (clip_length - 1) * step + 1
    if num_frames >= needed:
        return ""
    return (
        "the segment has {} frames, fewer than the {} a clip spans; "
        "the last sampled frame was repeated to fill the clip".format(num_frames, needed)
    )
