"""A video file to the model's input tensors: read exactly the sampled frames, preprocess each clip.

Shared by the service (per request), the int8 export (calibration and the
agreement check) and the benchmark, so all three feed the model the same input.
"""

from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

from inference.sampling import clip_frame_indices
from inference.transforms import i3d_eval_transform
from inference.video import SegmentReader, VideoFacts


@dataclass
class Clips:
    facts: VideoFacts
    #: Exact frame count (the container's, or counted when that was an estimate).
    frame_count: int
    #: Frame indices of each clip.
    indices: List[List[int]]
    #: One ``(3, T, H, W)`` float32 tensor per clip.
    tensors: List[np.ndarray]


class ClipReader:
    """GluonCV's test-time sampling and preprocessing for one model's manifest."""

    def __init__(self, manifest: dict):
        self.clip_length = int(manifest.get("clip_length", 32))
        self.frame_step = int(manifest.get("frame_step", 2))
        width, height = manifest.get("resize", [340, 256])
        #: The frames' size, scaled by the decoder as GluonCV's reader does (aspect ratio not kept).
        self.size = (int(width), int(height))
        self.transform = i3d_eval_transform(int(manifest.get("input_size", 224)))

    def read(self, path: str, num_clips: int = 1, check: Optional[Callable[[VideoFacts], None]] = None) -> Clips:
        """The clips of ``path``; ``check`` sees the facts before any frame is decoded.

        Raises ``EOFError`` if the video has no decodable frames.
        """
        with SegmentReader(path) as reader:
            facts = reader.facts
            if check:
                check(facts)
            frame_count = facts.frame_count
            clips = clip_frame_indices(max(frame_count, 1), self.clip_length, self.frame_step, num_clips)
            try:
                frames = reader.read([i for clip in clips for i in clip], size=self.size)
            except EOFError:
                # The container's frame count was an estimate: count, then sample again.
                frame_count = reader.count_frames()
                if frame_count == 0:
                    raise
                clips = clip_frame_indices(frame_count, self.clip_length, self.frame_step, num_clips)
                frames = reader.read([i for clip in clips for i in clip], size=self.size)
        tensors = [self.transform(np.stack([frames[i] for i in indices])) for indices in clips]
        return Clips(facts=facts, frame_count=frame_count, indices=clips, tensors=tensors)
