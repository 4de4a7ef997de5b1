"""The timeline picture covers each segment with its clips' labels."""

import pytest

from devstack.plot import covering_spans


def record(clips, duration_s=10.0):
    return {"start_seconds": 20, "duration_seconds": 10, "label": "Biking", "probability": 0.7,
            "video": {"duration_s": duration_s}, "clips": clips}


def clip(start_s, end_s, label):
    return {"start_s": start_s, "end_s": end_s, "label": label, "probability": 0.5}


def test_one_centre_clip_covers_the_whole_segment():
    (span,) = covering_spans(record([clip(3.72, 6.28, "Skiing")]))
    assert (span["start_s"], span["end_s"], span["label"]) == (20, 30, "Skiing")


def test_clips_split_the_segment_at_the_midpoints_between_their_centres():
    spans = covering_spans(record([clip(5.0, 7.56, "B"), clip(0.0, 2.56, "A"), clip(7.44, 10.0, "C")], duration_s=10.0))
    assert [s["label"] for s in spans] == ["A", "B", "C"]
    # centres 1.28, 6.28, 8.72 s: boundaries halfway, at 3.78 and 7.5 s
    assert [s["start_s"] for s in spans] == [20, pytest.approx(23.78), pytest.approx(27.5)]
    assert spans[-1]["end_s"] == 30  # the segment's end, with no gap between spans
    assert all(a["end_s"] == b["start_s"] for a, b in zip(spans, spans[1:]))


def test_a_short_segment_ends_at_its_decoded_length_and_a_record_without_clips_uses_its_own_label():
    (span,) = covering_spans(record([clip(0.0, 1.0, "Skiing")], duration_s=1.0))
    assert span["end_s"] == 21
    (span,) = covering_spans(record([]))
    assert (span["start_s"], span["end_s"], span["label"]) == (20, 30, "Biking")
