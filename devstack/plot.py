"""A picture of a stream: time on the x axis, one band per label, probability as intensity."""

from __future__ import annotations

from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")  # files only; no display here
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from devstack.observe import clip_rows  # noqa: E402


def plot_timeline(
    items: list[dict[str, Any]], path: str, title: str = "", watched: Iterable[str] = (), episodes: Iterable[Any] = ()
) -> str:
    """Draw clip-level results when present, segment-level otherwise, and each episode as a bar
    under its label's band (open episodes run to the last record, dashed); returns ``path``."""
    watched = set(watched)
    spans = []
    for item in items:
        rows = clip_rows(item)
        if not rows:
            start = float(item["start_seconds"])
            rows = [{"start_s": start, "end_s": start + float(item["duration_seconds"]), "label": item["label"],
                     "probability": item["probability"]}]
        spans.extend(rows)
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
