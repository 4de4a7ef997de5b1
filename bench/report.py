"""What every benchmark writes: the machine it ran on, the command, and its results (JSON and Markdown)."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
    }


def command_line(report: dict[str, Any]) -> str:
    """The Markdown line naming the command and the machine (a result means nothing without them)."""
    m = report["machine"]
    return (
        f"Command: `{report['command']}` · machine: {m['processor']}, {m['usable_cores']} usable cores, "
        f"{m.get('memory_gb', '?')} GiB, load average at start {tuple(round(x, 2) for x in m['load_average'])}, "
        f"Python {m['python']}, {m['platform']}."
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
