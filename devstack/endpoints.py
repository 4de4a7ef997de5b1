"""Local inference servers standing in for SageMaker endpoints: one process per endpoint.

Started by the InvokeEndpoint bridge (``devstack.bridges.invoke_endpoint``)
when the Pulumi program creates an endpoint: the model archive it uploaded is
unpacked and its ``code/`` served, as SageMaker's container does.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from typing import Callable

from devstack.bridges._support import state_dir
from devstack.ports import free_port


LOG = logging.getLogger("devstack.endpoints")
#: How often the supervisor looks at the servers, and how long a restarted one may take to answer /ping.
SUPERVISE_INTERVAL_S = 0.5
RESTART_READY_S = 180


class LocalEndpoints:
    """Inference servers started for created endpoints, keyed by endpoint name.

    Supervised as SageMaker supervises its instances: a server that exits on its own is
    reported (log, and ``Failed`` with a ``FailureReason`` through the listener, which the
    InvokeEndpoint bridge points at DescribeEndpoint's status), started again on the same
    port, and reported ``InService`` once it answers ``/ping``. Requests meanwhile get
    ``ServiceUnavailable`` (the bridge), which the workflow retries.
    """

    def __init__(self):
        self.urls: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.launchers: dict[str, Callable[[], subprocess.Popen]] = {}
        self.listeners: dict[str, Callable[[str, str | None], None]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.supervisor: threading.Thread | None = None

    def listen(self, endpoint_name: str, listener: Callable[[str, str | None], None]) -> None:
        """Call ``listener(status, failure_reason)`` when the endpoint's server dies or is back."""
        self.listeners[endpoint_name] = listener

    def _notify(self, endpoint_name: str, status: str, reason: str | None) -> None:
        listener = self.listeners.get(endpoint_name)
        if listener:
            listener(status, reason)

    def _supervise(self) -> None:
        while not self.stopping.wait(SUPERVISE_INTERVAL_S):
            with self.lock:
                dead = [(name, p.returncode) for name, p in self.processes.items() if p.poll() is not None]
            for name, code in dead:
                if self.stopping.is_set():
                    return
                reason = f"the inference server exited with code {code}; restarting it"
                LOG.error("endpoint %s: %s", name, reason)
                self._notify(name, "Failed", reason)
                with self.lock:
                    self.processes[name] = self.launchers[name]()
                if _answers_ping(self.urls[name], RESTART_READY_S, self.stopping):
                    LOG.warning("endpoint %s: the inference server is back", name)
                    self._notify(name, "InService", None)

    def start(self, endpoint_name: str, archive: bytes, environment: dict[str, str]) -> str:
        """Unpack ``archive`` (model.tar.gz) and serve it; returns the server's URL."""
        target = os.path.join(state_dir(), "endpoints", endpoint_name)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.makedirs(target)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as unpacked:
            unpacked.extractall(target, filter="data")
        port = free_port()
        env = {
            **os.environ,
            **environment,
            # The code that runs is the code in the archive, as in SageMaker's container.
            "PYTHONPATH": os.path.join(target, "code"),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ['MOTO_PORT']}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        log_path = os.path.join(state_dir(), f"endpoint-{endpoint_name}.log")

        def launch() -> subprocess.Popen:
            with open(log_path, "ab") as log:
                return subprocess.Popen(
                    [sys.executable, "-m", "inference.server", "--model-dir", target, "--host", "127.0.0.1",
                     "--port", str(port), "--allow-faults"],
                    env=env,
                    cwd=os.path.join(target, "code"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

        process = launch()
        url = f"http://127.0.0.1:{port}"
        with self.lock:
            old = self.processes.pop(endpoint_name, None)
            self.processes[endpoint_name] = process
            self.launchers[endpoint_name] = launch
            self.urls[endpoint_name] = url
            if self.supervisor is None:
                self.supervisor = threading.Thread(target=self._supervise, name="endpoint-supervisor", daemon=True)
                self.supervisor.start()
            with open(os.path.join(state_dir(), "endpoints.json"), "w") as handle:
                json.dump(self.urls, handle)
        if old:
            old.terminate()
        return url

    def url(self, endpoint_name: str) -> str | None:
        return self.urls.get(endpoint_name)

    def stop_all(self) -> None:
        self.stopping.set()
        with self.lock:
            processes = list(self.processes.values())
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _answers_ping(url: str, timeout_s: float, stopping: threading.Event) -> bool:
    import requests

    deadline = time.time() + timeout_s
    while time.time() < deadline and not stopping.is_set():
        try:
            if requests.get(url + "/ping", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        stopping.wait(0.5)
    return False


ENDPOINTS = LocalEndpoints()
