"""A picture of a stream: time on the x axis, one band per label, probability as intensity."""

from __future__ import annotations

from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")  # files only; no display here
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from devstack.observe import clip_rows, segment_seconds  # noqa: E402


def covering_spans(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's labels as spans that cover the whole segment.

    A clip is 2.56 s of a 10 s segment; drawn alone, the rest of the segment would read
    as "nothing detected". Each clip stands for the part of the segment nearer to its
    centre than to any other clip's (one clip: the whole segment). Without clips, the
    segment's own label covers it.
    """
    start = float(item["start_seconds"])
    end = start + segment_seconds(item)
    clips = sorted(clip_rows(item), key=lambda clip: clip["start_s"])
    if not clips:
        return [{"start_s": start, "end_s": end, "label": item["label"], "probability": item["probability"]}]
    centres = [(clip["start_s"] + clip["end_s"]) / 2 for clip in clips]
    bounds = [start] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [max(end, clips[-1]["end_s"])]
    return [dict(clip, start_s=bounds[i], end_s=bounds[i + 1]) for i, clip in enumerate(clips)]


def plot_timeline(
    items: list[dict[str, Any]], path: str, title: str = "", watched: Iterable[str] = (), episodes: Iterable[Any] = ()
) -> str:
    """Draw clip-level results when present, segment-level otherwise, and each episode as a bar
    under its label's band (open episodes run to the last record, dashed); returns ``path``."""
    watched = set(watched)
    spans = [span for item in items for span in covering_spans(item)]
    episodes = list(episodes)
    labels = sorted({span["label"] for span in spans} | {e.label for e in episodes})
    figure, axes = plt.subplots(figsize=(10, 1.2 + 0.45 * max(1, len(labels))))
    for span in spans:
        row = labels.index(span["label"])
        colour = "tab:red" if span["label"] in watched else "tab:blue"
        axes.add_patch(Rectangle((span["start_s"], row - 0.4), span["end_s"] - span["start_s"], 0.8,
                                 color=colour, alpha=max(0.15, min(1.0, float(span["probability"])))))
    for episode in episodes:
        row = labels.index(episode.label)
        end_s = episode.end_seconds if episode.end_seconds is not None else episode.last_seen_seconds
        axes.add_patch(Rectangle((episode.start_seconds, row - 0.48), end_s - episode.start_seconds, 0.12,
                                 facecolor="black", edgecolor="black", linestyle="-" if episode.end_seconds is not None else "--",
                                 fill=episode.end_seconds is not None))
    segment_ends = [float(i["start_seconds"]) + float(i["duration_seconds"]) for i in items]
    end = max(segment_ends + [span["end_s"] for span in spans], default=10)
    axes.set_xlim(0, end)
    axes.set_ylim(-0.6, len(labels) - 0.4)
    axes.set_yticks(range(len(labels)))
    axes.set_yticklabels([f"{label} *" if label in watched else label for label in labels])
    axes.set_xlabel("stream time (s); black bars: episodes (dashed: still open)" if episodes else "stream time (s)")
    note = " (random weights: labels meaningless)" if any(i.get("random_weights") for i in items) else ""
    axes.set_title((title or "timeline") + note)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
