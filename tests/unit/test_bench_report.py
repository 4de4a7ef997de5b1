"""bench/report.py: the CPU facts every result carries (an int8 ratio means little without the ISA)."""

from bench.report import command_line, cpu_facts, onednn_isa_from_log

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni
processor\t: 1
model name\t: another name that is not read
flags\t\t: fpu
"""

VERBOSE_LOG = """dnnl_verbose,info,oneDNN v2.4.4 (commit 5818c40f07bdb6307f9bc64e929836fe036da644)
dnnl_verbose,info,cpu,runtime:OpenMP
dnnl_verbose,info,cpu,isa:Intel AVX2
dnnl_verbose,exec,cpu,convolution,jit:avx2,forward_inference
"""


def test_cpu_facts_reads_the_first_cpu_and_keeps_the_vector_flags_that_matter_in_order():
    facts = cpu_facts(CPUINFO)
    assert facts == {"cpu_model": "AMD EPYC 9R14", "vector_flags": ["avx2", "avx512f", "avx512_vnni"]}


def test_cpu_facts_of_an_unreadable_cpuinfo_are_empty():
    assert cpu_facts("") == {"cpu_model": "", "vector_flags": []}


def test_onednn_isa_comes_from_the_info_line_only():
    assert onednn_isa_from_log(VERBOSE_LOG) == "Intel AVX2"
    assert onednn_isa_from_log("dnnl_verbose,exec,cpu,convolution,jit:avx2\n") is None


def test_command_line_names_the_cpu_and_the_isa_when_known():
    machine = {"processor": "x86_64", "usable_cores": 2, "memory_gb": 23.5, "load_average": (0.1, 0.2, 0.3),
               "python": "3.11.7", "platform": "Linux", "cpu_model": "AMD EPYC 9R14",
               "vector_flags": ["avx2", "avx512_vnni"], "onednn_isa": "Intel AVX2"}
    line = command_line({"command": "python -m bench.inference", "machine": machine})
    assert "CPU: AMD EPYC 9R14 (avx2, avx512_vnni)." in line
    assert line.endswith("oneDNN ISA: Intel AVX2.")
    older = {key: value for key, value in machine.items() if key not in ("cpu_model", "vector_flags", "onednn_isa")}
    assert "CPU:" not in command_line({"command": "x", "machine": older})  # results committed before these facts
