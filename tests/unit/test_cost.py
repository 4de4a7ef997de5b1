"""The cost-per-stream-hour arithmetic behind the README's table (bench/cost.py)."""

import pytest

from bench.cost import instance_cost_per_stream_hour, serverless_cost_per_stream_hour


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
