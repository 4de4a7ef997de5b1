"""Process settings that MXNet reads once, at import: import this module first."""

import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Left unset, MXNet's OpenMP pool used one of the two cores here (1.11 s per clip
# against 0.60 s with both); setdefault keeps an operator's explicit choice.
os.environ.setdefault("OMP_NUM_THREADS", str(usable_cores()))
# MKLDNN (oneDNN) kernels: the subgraph backend fuses conv + bn + relu.
os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
