"""The ISA a benchmark reports is the one MXNet's oneDNN runs, and ``--max-cpu-isa`` really caps it."""

import platform

import pytest

from bench.report import onednn_isa

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="oneDNN's x86 ISAs")


def test_onednn_reports_an_isa_and_obeys_the_cap(monkeypatch):
    assert onednn_isa() is not None
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")  # what bench.inference --max-cpu-isa AVX2 sets
    assert onednn_isa() == "Intel AVX2"
