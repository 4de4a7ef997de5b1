"""The cost-per-stream-hour arithmetic behind the README's table (bench/cost.py)."""

import pytest

import json

from bench.cost import instance_cost_per_stream_hour, main, measured_serving, serverless_cost_per_stream_hour


def test_one_stream_pays_for_a_whole_instance():
    assert instance_cost_per_stream_hour(0.2, service_s=0.5, streams=1) == pytest.approx(0.2)


def test_instances_fill_up_to_the_utilisation_target():
    # 4 vCPUs, 0.5 s per segment, 70%: 14 streams per instance; 15 streams need 2 instances.
    assert instance_cost_per_stream_hour(0.2, 0.5, streams=14) == pytest.approx(0.2 / 14)
    assert instance_cost_per_stream_hour(0.2, 0.5, streams=15) == pytest.approx(0.4 / 15)
    assert instance_cost_per_stream_hour(0.4, 0.5, streams=28, vcpus=8, measured_vcpus=4) == pytest.approx(0.4 / 28)


def test_an_instance_serves_in_proportion_to_its_vcpus_over_those_measured():
    # Measured on 2 vCPUs at 0.5 s: a 4-vCPU instance at 70% serves 28 streams, a 2-vCPU one 14.
    assert instance_cost_per_stream_hour(0.2, 0.5, streams=28, vcpus=4, measured_vcpus=2) == pytest.approx(0.2 / 28)
    assert instance_cost_per_stream_hour(0.2, 0.5, streams=28, vcpus=2, measured_vcpus=2) == pytest.approx(0.4 / 28)


def test_serverless_bills_only_invocation_seconds_and_data():
    assert serverless_cost_per_stream_hour(0.0001, service_s=0.5) == pytest.approx(360 * 0.5 * 0.0001)
    with_data = serverless_cost_per_stream_hour(0.0001, 0.5, per_gb_processed=0.016)
    assert with_data > serverless_cost_per_stream_hour(0.0001, 0.5)


def _serving_report(tmp_path, rows):
    path = tmp_path / "serving.json"
    path.write_text(json.dumps({"machine": {"usable_cores": 2}, "rows": rows,
                                "best": {"1280x720": {"service_time_s": 0.53}}}))
    return str(path)


def test_measured_serving_takes_the_busy_service_time_and_the_lone_1x1_latency(tmp_path):
    rows = [{"resolution": "1280x720", "setting": "1x1", "concurrency": 2, "p50_s": 9.0},
            {"resolution": "640x272", "setting": "1x1", "concurrency": 1, "p50_s": 8.0},
            {"resolution": "1280x720", "setting": "1x2", "concurrency": 1, "p50_s": 7.0},
            {"resolution": "1280x720", "setting": "1x1", "concurrency": 1, "p50_s": 0.85}]
    assert measured_serving(_serving_report(tmp_path, rows)) == {"service_s": 0.53, "measured_vcpus": 2, "serverless_s": 0.85}


def test_measured_serving_says_what_is_missing(tmp_path):
    rows = [{"resolution": "1280x720", "setting": "2x1", "concurrency": 1, "p50_s": 0.8}]
    with pytest.raises(ValueError, match="no 1280x720 result with setting 1x1 at concurrency 1"):
        measured_serving(_serving_report(tmp_path, rows))


def test_given_times_need_no_serving_result_and_must_be_positive(capsys, monkeypatch):
    import bench.cost

    monkeypatch.setattr(bench.cost, "measured_serving", lambda: pytest.fail("serving.json was read"))
    assert main(["--service-seconds", "0.5", "--measured-vcpus", "4", "--serverless-seconds", "0.5"]) == 0
    assert "S = 0.500 s" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--service-seconds", "0", "--measured-vcpus", "4", "--serverless-seconds", "0.5"])
