"""bench/serving.py's arithmetic: nearest-rank percentiles and the best setting per resolution."""

import pytest

from bench.serving import percentile, summarise


def test_percentile_is_nearest_rank():
    values = [0.5, 0.1, 0.4, 0.2, 0.3]
    assert percentile(values, 50) == 0.3
    assert percentile(values, 99) == 0.5  # with few values, the slowest
    assert percentile(values, 1) == 0.1


def test_summarise_takes_the_best_setting_at_the_highest_concurrency_only():
    rows = [
        {"setting": "1x2", "resolution": "640x272", "concurrency": 1, "segments_per_s": 9.0},  # not at the top
        {"setting": "1x2", "resolution": "640x272", "concurrency": 8, "segments_per_s": 2.0},
        {"setting": "2x1", "resolution": "640x272", "concurrency": 8, "segments_per_s": 2.5},
        {"setting": "1x2", "resolution": "1920x1080", "concurrency": 8, "segments_per_s": 1.25},
        {"setting": "2x1", "resolution": "1920x1080", "concurrency": 8, "segments_per_s": 1.0},
    ]
    report = {"rows": rows}
    summarise(report)
    assert report["best"]["640x272"] == {"setting": "2x1", "segments_per_s": 2.5, "service_time_s": 0.4,
                                         "autoscaling_target": 105}
    assert report["best"]["1920x1080"]["setting"] == "1x2"
    assert report["best"]["1920x1080"]["service_time_s"] == pytest.approx(0.8)
