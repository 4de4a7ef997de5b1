"""Free local ports (never fixed ones: several stacks and test runs share the machine)."""

from __future__ import annotations

import random
import socket


def free_port(port_range: tuple[int, int] | None = None) -> int:
    """A free TCP port on 127.0.0.1: any the system hands out, or one within ``port_range`` (inclusive)."""
    if port_range is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(*port_range)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in {}-{}".format(*port_range))
