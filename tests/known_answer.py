"""A model whose answer is known, and video it must recognise.

The model follows the seed's contract (``model-symbol.json``, ``model-0000.params``,
``classes.txt``; no manifest): it averages the clip's preprocessed pixels per
channel and scores ``red``, ``green`` and ``blue`` by that channel, against a
constant score for ``nothing``. A solid red clip is ``red`` (probability
above 0.99), a black or grey one ``nothing``. Segments are solid colours made by
ffmpeg's ``color`` source, encoded like the pipeline's other test segments
(libx264, 2-second GOP, MPEG-TS).
"""

from __future__ import annotations

import os
import subprocess

COLOURS = ("red", "green", "blue")
#: The workflow asks for the top 5 labels: two more classes the model never picks (bias -10).
CLASSES = (*COLOURS, "nothing", "unused_1", "unused_2")
#: How strongly a channel's mean votes for its colour (logit = GAIN x normalised mean).
GAIN = 3.0


def build_colour_model(out_dir: str) -> str:
    from inference import runtime  # noqa: F401  (threads before mxnet)

    import mxnet as mx

    os.makedirs(out_dir, exist_ok=True)
    data = mx.sym.var("data")
    pooled = mx.sym.mean(data, axis=(2, 3, 4))  # (batch, 3): mean of each normalised channel
    scores = mx.sym.FullyConnected(pooled, num_hidden=len(CLASSES), name="fc")
    scores.save(os.path.join(out_dir, "model-symbol.json"))
    weight = mx.nd.zeros((len(CLASSES), 3))
    for channel in range(3):
        weight[channel, channel] = GAIN
    bias = mx.nd.array([0.0] * 4 + [-10.0] * (len(CLASSES) - 4))
    mx.nd.save(os.path.join(out_dir, "model-0000.params"), {"arg:fc_weight": weight, "arg:fc_bias": bias})
    with open(os.path.join(out_dir, "classes.txt"), "w") as handle:
        handle.write("\n".join(CLASSES) + "\n")
    return out_dir


#: Pure colours (ffmpeg's "green" is 0x008000).
HEX = {"red": "0xFF0000", "green": "0x00FF00", "blue": "0x0000FF", "black": "0x000000"}


def colour_segment(path: str, colour: str, seconds: int = 10, offset_s: float = 0.0) -> str:
    """A solid-colour MPEG-TS segment (320x240, 25 fps, GOP 50), its first PTS exactly ``offset_s``
    (no mux delay; libx264's ultrafast preset has no B-frames)."""
    from videos.samples import ffmpeg_exe

    colour = HEX.get(colour, colour)
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s=320x240:r=25:d={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-an",
         "-muxdelay", "0", "-muxpreload", "0", "-output_ts_offset", f"{offset_s:.3f}", "-f", "mpegts", path],
        check=True,
    )
    return path
