"""``python -m devstack.moto_process PORT``: moto's server on 127.0.0.1:PORT with the bridges installed."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0])
    # The interpreter's own AWS calls go back to this server through MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    import requests

    from devstack import bridges
    from devstack.endpoints import ENDPOINTS
    from devstack.lambda_workers import WORKERS

    bridges.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's public configuration API (not its config module): the interpreter on, Lambda without Docker.
    requests.post(f"http://127.0.0.1:{port}/moto-api/config", json=bridges.MOTO_CONFIG, timeout=10).raise_for_status()
    print(f"moto ready on 127.0.0.1:{port}", flush=True)
    stopped = threading.Event()

    def stop(*_):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    owner = int(os.environ.get("DEVSTACK_OWNER_PID") or 0)
    if owner:
        threading.Thread(target=_watch_owner, args=(owner, stopped), daemon=True).start()
    stopped.wait()
    WORKERS.stop_all()
    ENDPOINTS.stop_all()
    server.stop()
    return 0


def _watch_owner(owner: int, stopped: threading.Event) -> None:
    """Stop when the ``up``/``demo`` process that started us is gone (even after ``kill -9``)."""
    while not stopped.wait(1.0):
        if os.getppid() != owner:
            logging.getLogger("devstack").warning("owner process %s is gone: stopping", owner)
            stopped.set()


if __name__ == "__main__":
    sys.exit(main())
