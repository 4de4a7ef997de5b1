"""Local SageMaker endpoints: AWS's serving stack (MMS + the SageMaker MXNet toolkit), one per endpoint.

Started by the InvokeEndpoint bridge (``devstack.bridges.invoke_endpoint``)
when the Pulumi program creates an endpoint: the model archive it uploaded is
extracted into ``<state>/endpoints/<name>/model`` and served by
:class:`devstack.model_server.ModelServer` with the Model's declared
environment, as AWS's MXNet inference container serves it from ``/opt/ml``.
Nothing of the local stack is in the archive: fault injection for tests lives
in the bridge.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Callable

from devstack.bridges._support import state_dir
from devstack.model_server import ModelServer, extract_archive, mms_port

LOG = logging.getLogger("devstack.endpoints")
#: How often the supervisor looks at the servers; how long a server may take to answer /ping.
SUPERVISE_INTERVAL_S = 0.5
READY_S = 300
#: After a restart that did not come up, wait this long before the next attempt.
RESTART_PAUSE_S = 5
#: At shutdown, SIGKILL what has not stopped this long after SIGTERM (a worker loading its model
#: answers SIGTERM only once MXNet returns; MMS keeps no state worth a longer wait).
STOP_GRACE_S = 5

Listener = Callable[[str, "str | None"], None]


class LocalEndpoints:
    """Model servers started for created endpoints, keyed by endpoint name.

    Supervised as SageMaker supervises its instances: an endpoint is ``Creating``
    until its server answers ``/ping`` and a worker has loaded the model (then
    ``InService``; SageMaker looks at ``/ping`` alone, which MMS answers while its
    workers still load the model: locally the first request is not timed against
    that), ``Failed`` with a ``FailureReason`` if it never does. A server that exits later is reported
    (log, and ``Failed`` with the reason through the listener, which the bridge
    points at DescribeEndpoint's status), started again on the same port, and
    reported ``InService`` once it answers ``/ping``. Requests meanwhile get
    ``ServiceUnavailable`` (the bridge), which the workflow retries.
    """

    def __init__(self):
        self.servers: dict[str, ModelServer] = {}
        self.keepers: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def start(
        self,
        endpoint_name: str,
        archive: bytes,
        environment: dict[str, str],
        listener: Listener,
        extra_env: dict[str, str] | None = None,
    ) -> str:
        """Serve ``archive`` (model.tar.gz) with the Model's ``environment``; returns the URL at once.

        Extraction, start and the wait for ``/ping`` happen in the endpoint's own thread;
        ``listener(status, failure_reason)`` hears ``InService``/``Failed``. ``extra_env`` is
        the machine's, not the Model's (the local AWS and its credentials).
        """
        base_dir = os.path.join(state_dir(), "endpoints", endpoint_name)
        os.makedirs(base_dir, exist_ok=True)
        server = ModelServer(base_dir, environment, extra_env=extra_env, port=mms_port(), die_with_parent=True)
        done = threading.Event()
        with self.lock:
            old, old_done = self.servers.pop(endpoint_name, None), self.keepers.pop(endpoint_name, None)
            self.servers[endpoint_name] = server
            self.keepers[endpoint_name] = done
            urls = {name: s.url for name, s in self.servers.items()}
            with open(os.path.join(state_dir(), "endpoints.json"), "w") as handle:
                json.dump(urls, handle)
        if old_done:
            old_done.set()
        threading.Thread(
            target=self._keep, args=(endpoint_name, server, archive, listener, done, old),
            name=f"endpoint-{endpoint_name}", daemon=True,
        ).start()
        return server.url

    def _keep(self, name: str, server: ModelServer, archive: bytes, listener: Listener,
              done: threading.Event, old: ModelServer | None) -> None:
        """Start the endpoint's server, report it, and restart it whenever it exits."""
        if old:  # an update of the endpoint: the new model replaces the old one in the same folder
            old.stop()
        try:
            extract_archive(archive, server.base_dir)
            if self.stopping.is_set() or done.is_set():
                return
            server.start()
            server.wait_ready(READY_S, loaded=True)
        except Exception as error:  # noqa: BLE001 - reported as SageMaker reports a failed creation
            server.stop()
            reason = f"the model server did not start: {str(error).splitlines()[0]}"
            LOG.error("endpoint %s: %s (log: %s)", name, reason, server.log_path)
            listener("Failed", reason)
            return
        listener("InService", None)
        while not (done.is_set() or self.stopping.is_set()):
            if server.alive():
                done.wait(SUPERVISE_INTERVAL_S)
                continue
            reason = f"the model server exited with code {server.process.returncode}; restarting it"
            LOG.error("endpoint %s: %s", name, reason)
            listener("Failed", reason)
            server.stop()  # what is left of its process group (MMS's front end, its workers)
            if done.is_set() or self.stopping.is_set():
                return
            try:
                server.start()
                server.wait_ready(READY_S, loaded=True)
            except Exception as error:  # noqa: BLE001 - keep trying, as SageMaker replaces an instance
                LOG.error("endpoint %s: the restarted model server did not come up: %s", name, error)
                server.stop()
                done.wait(RESTART_PAUSE_S)
                continue
            LOG.warning("endpoint %s: the model server is back", name)
            listener("InService", None)

    def url(self, endpoint_name: str) -> str | None:
        server = self.servers.get(endpoint_name)
        return server.url if server else None

    def server(self, endpoint_name: str) -> ModelServer | None:
        return self.servers.get(endpoint_name)

    def stop_all(self) -> None:
        """Stop every server (all at once: each ends its whole process group)."""
        self.stopping.set()
        with self.lock:
            servers = list(self.servers.values())
            for done in self.keepers.values():
                done.set()
        for server in servers:
            server.terminate()
        for server in servers:
            server.stop(STOP_GRACE_S)


ENDPOINTS = LocalEndpoints()
