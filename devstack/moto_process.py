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

    from devstack import bridges

    bridges.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"moto ready on 127.0.0.1:{port}", flush=True)
    stopped = threading.Event()

    def stop(*_):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    bridges.ENDPOINTS.stop_all()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
