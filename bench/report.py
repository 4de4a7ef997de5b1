"""What every benchmark writes: the machine it ran on, the command, and its results (JSON and Markdown)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any, Optional

#: The CPU's vector extensions that decide how fast the forward runs (oneDNN picks its kernels by
#: them): int8 convolutions are several times faster with VNNI (avx512_vnni, avx_vnni) or AMX than
#: with AVX2 alone, so an int8 ratio means little without them.
VECTOR_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")

#: Runs one small convolution with oneDNN's verbose log on, whose info line names the ISA it uses.
_ONEDNN_PROBE = (
    "import mxnet as mx; "
    "mx.nd.Convolution(mx.nd.ones((1, 8, 8, 8)), mx.nd.ones((8, 8, 3, 3)), no_bias=True, kernel=(3, 3), "
    "num_filter=8).wait_to_read()"
)


def cpu_facts(cpuinfo: str) -> dict[str, Any]:
    """The CPU's model name and which of :data:`VECTOR_FLAGS` it has, from ``/proc/cpuinfo``'s text."""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"cpu_model": model, "vector_flags": [flag for flag in VECTOR_FLAGS if flag in flags]}


def onednn_isa_from_log(log: str) -> Optional[str]:
    """The ISA in oneDNN's verbose info line (``dnnl_verbose,info,cpu,isa:...``), if there is one."""
    marker = ",info,cpu,isa:"
    for line in log.splitlines():
        if marker in line:
            return line.split(marker, 1)[1].strip()
    return None


def onednn_isa(python: str = sys.executable) -> Optional[str]:
    """The ISA MXNet's oneDNN dispatches to on this machine (a child process, so that the verbose log
    is on for it alone); ``None`` where MXNet is not installed or logs nothing."""
    env = dict(os.environ, DNNL_VERBOSE="1", MKLDNN_VERBOSE="1")
    try:
        done = subprocess.run([python, "-c", _ONEDNN_PROBE], env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return onednn_isa_from_log(done.stdout + done.stderr)


def machine(with_onednn: bool = False) -> dict[str, Any]:
    """The facts a result needs beside it; ``with_onednn`` adds the ISA oneDNN runs (benchmarks of the forward)."""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = cpu_facts(handle.read())
    except OSError:
        cpu = {"cpu_model": "", "vector_flags": []}
    facts = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        **cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
    }
    if with_onednn:
        facts["onednn_isa"] = onednn_isa()
    return facts


def command_line(report: dict[str, Any]) -> str:
    """The Markdown line naming the command and the machine (a result means nothing without them)."""
    m = report["machine"]
    return (
        f"Command: `{report['command']}` · machine: {m['processor']}, {m['usable_cores']} usable cores, "
        f"{m.get('memory_gb', '?')} GiB, load average at start {tuple(round(x, 2) for x in m['load_average'])}, "
        f"Python {m['python']}, {m['platform']}."
        + (f" CPU: {m['cpu_model'] or 'unknown'} ({', '.join(m['vector_flags']) or 'no AVX2'})." if "vector_flags" in m else "")
        + (f" oneDNN ISA: {m['onednn_isa']}." if m.get("onednn_isa") else "")
    )


def write(out_dir: str, name: str, text: str, report: dict[str, Any] | None = None) -> None:
    """``<out_dir>/<name>.md`` (and ``<name>.json`` with the report), and the Markdown on stdout."""
    os.makedirs(out_dir, exist_ok=True)
    if report is not None:
        with open(os.path.join(out_dir, f"{name}.json"), "w") as handle:
            json.dump(report, handle, indent=2)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as handle:
        handle.write(text)
    print(text)
