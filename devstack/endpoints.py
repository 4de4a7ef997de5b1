"""Local inference servers standing in for SageMaker endpoints: one process per endpoint.

Started by the InvokeEndpoint bridge (``devstack.bridges.invoke_endpoint``)
when the Pulumi program creates an endpoint: the model archive it uploaded is
unpacked and its ``code/`` served, as SageMaker's container does.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading

from devstack.bridges._support import state_dir
from devstack.ports import free_port


class LocalEndpoints:
    """Inference servers started for created endpoints, keyed by endpoint name."""

    def __init__(self):
        self.urls: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

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
        log = open(os.path.join(state_dir(), f"endpoint-{endpoint_name}.log"), "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "inference.server", "--model-dir", target, "--host", "127.0.0.1",
             "--port", str(port), "--allow-faults"],
            env=env,
            cwd=os.path.join(target, "code"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        with self.lock:
            old = self.processes.pop(endpoint_name, None)
            self.processes[endpoint_name] = process
            self.urls[endpoint_name] = url
            with open(os.path.join(state_dir(), "endpoints.json"), "w") as handle:
                json.dump(self.urls, handle)
        if old:
            old.terminate()
        return url

    def url(self, endpoint_name: str) -> str | None:
        return self.urls.get(endpoint_name)

    def stop_all(self) -> None:
        with self.lock:
            processes = list(self.processes.values())
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


ENDPOINTS = LocalEndpoints()
