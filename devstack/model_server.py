"""AWS's serving stack on this machine: Multi Model Server + the SageMaker MXNet inference toolkit.

AWS's MXNet inference container (``mxnet-inference:1.9.0-*-py38``) extracts
``model.tar.gz`` into ``/opt/ml/model`` and runs::

    python -c "from sagemaker_mxnet_serving_container import serving; serving.main()"

with the Model's environment: the SageMaker inference toolkit writes MMS's
configuration, pip-installs ``code/requirements.txt``, and starts Multi Model
Server (a Java front end with one Python worker process per model copy), whose
workers import ``SAGEMAKER_PROGRAM`` from ``code/`` and call its ``model_fn``
and ``transform_fn``. :class:`ModelServer` does exactly that here, from the same
archive, with ``SAGEMAKER_BASE_DIR`` (the container's ``/opt/ml``) pointing at a
folder holding ``model/``.

What differs from the container, and why (each is a per-machine assumption of
the toolkit, moved per instance so that several endpoints can run side by side):

- the toolkit writes MMS's configuration to ``/etc/sagemaker-mms.properties``:
  here to ``<base_dir>/sagemaker-mms.properties``;
- it finds "the" MMS process by scanning every process on the machine (and
  fails if there are two): here it looks only in its own session;
- MMS's pid file and worker sockets go to the instance's own ``TMPDIR``/``TEMP``
  (the container sets ``TEMP`` too);
- MMS listens on ``127.0.0.1:<port>`` (``MMS_INFERENCE_ADDRESS``/``MMS_MANAGEMENT_ADDRESS``)
  rather than the container's ``0.0.0.0:8080``;
- the toolkit runs ``pip install -r code/requirements.txt`` at every start (about 6 s
  here even when there is nothing to install): here pip runs only when a requirement
  that applies to this Python (its environment marker) is missing or of another
  version, which is what pip would conclude, without the wait. The first start of a
  Python 3.8 environment (``ENDPOINT_PYTHON``) still installs OpenCV and PyAV from ``code/wheels``.

API (the local stack's endpoint bridge and ``bench/serving.py`` use it)::

    from devstack.model_server import ModelServer

    server = ModelServer.from_archive(
        "model.tar.gz", base_dir,                  # base_dir/model/ gets the archive (replaced)
        environment={"SAGEMAKER_PROGRAM": "sagemaker_entry.py", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
        extra_env={"AWS_ENDPOINT_URL": ...},       # the machine's, not the Model's (credentials, local AWS)
    )
    server.start()             # returns at once; server.url is http://127.0.0.1:PORT
    server.wait_ready(120)     # /ping answers 200 (loaded=True: a worker has loaded the model), or RuntimeError
    server.worker_pids()       # MMS's Python workers (for RSS per worker)
    server.rss_bytes()         # resident memory of the front end and workers together
    server.stop()              # ends the front end and every worker (its own process group)

``ModelServer(base_dir, environment)`` serves a ``base_dir/model`` already in
place. It is a context manager too (``with ModelServer.from_archive(...) as s:``
starts, waits until ready, and stops). ``java`` must be on ``PATH`` (Debian:
``default-jre-headless``; ``make venv`` installs it where missing).
"""

from __future__ import annotations

import ctypes
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Mapping

import requests

from devstack.ports import free_port

#: The container's entry point, with the two per-machine lookups made per instance (see above),
#: and pip skipped when ``code/requirements.txt`` asks for nothing this Python lacks.
BOOTSTRAP = """
import os
import psutil
from sagemaker_inference import model_server

model_server.MMS_CONFIG_FILE = os.environ["DEVSTACK_MMS_CONFIG_FILE"]


def _missing_requirements(path):
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip's own copy
        from pip._vendor.packaging.requirements import Requirement
    from importlib import metadata

    missing = []
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            wanted = Requirement(line)
            if wanted.marker is not None and not wanted.marker.evaluate():
                continue
            try:
                if metadata.version(wanted.name) in wanted.specifier:
                    continue
            except metadata.PackageNotFoundError:
                pass
            missing.append(line)
    return missing


_install_requirements = model_server._install_requirements


def _install_missing_requirements():
    if _missing_requirements(model_server.REQUIREMENTS_PATH):
        _install_requirements()


model_server._install_requirements = _install_missing_requirements


def _own_mms_process():
    session = os.getsid(0)
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE or os.getsid(process.pid) != session:
                continue
            if model_server.MMS_NAMESPACE in process.cmdline():
                found.append(process)
        except (psutil.Error, OSError):
            continue
    if len(found) != 1:
        raise Exception("mms model server was unsuccessfully started")
    return found[0]


model_server._retrieve_mms_server_process = _own_mms_process

from sagemaker_mxnet_serving_container import serving

serving.main()
"""

LOG_FILE = "model-server.log"


#: MMS's worker socket in the temporary folder (``.mms.sock.<9000 + worker>``), and the longest Unix
#: socket path Linux takes (``sun_path`` is 108 bytes with its NUL), less a margin.
MMS_SOCKET_NAME = ".mms.sock.9000"
MAX_SOCKET_PATH = 100


class JavaMissing(RuntimeError):
    """MMS's front end needs a Java runtime."""


#: MMS refuses ports from 32767 up (``Connector.parse``), where the kernel hands out ephemeral ports.
PORT_RANGE = (20000, 32766)


def mms_port() -> int:
    """A free TCP port on 127.0.0.1 that MMS accepts."""
    return free_port(PORT_RANGE)


def extract_archive(archive: str | bytes, base_dir: str) -> str:
    """Extract ``model.tar.gz`` (a path, or its bytes) into ``base_dir/model`` (replacing it), as SageMaker
    does into ``/opt/ml/model``."""
    model_dir = os.path.join(base_dir, "model")
    if os.path.exists(model_dir):
        shutil.rmtree(model_dir)
    os.makedirs(model_dir)
    source = {"fileobj": io.BytesIO(archive)} if isinstance(archive, bytes) else {"name": archive}
    with tarfile.open(mode="r:gz", **source) as tar:
        tar.extractall(model_dir, filter="data")
    return model_dir


def _term_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it ends (Linux ``PR_SET_PDEATHSIG``).

    The toolkit then stops MMS, as on a SageMaker instance being shut down; so an endpoint
    never outlives the local AWS server that runs it, even one killed with SIGKILL.
    """
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


class ModelServer:
    """One endpoint instance: MMS + the SageMaker MXNet toolkit serving ``base_dir/model``."""

    def __init__(
        self,
        base_dir: str,
        environment: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
        python: str = sys.executable,
        die_with_parent: bool = False,
    ):
        self.base_dir = os.path.abspath(base_dir)
        self.environment = dict(environment or {})
        self.extra_env = dict(extra_env or {})
        self.port = port
        self.python = python
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join(self.base_dir, LOG_FILE)
        self._short_tmp: str | None = None

    @classmethod
    def from_archive(cls, archive: str, base_dir: str, environment: Mapping[str, str] | None = None, **kwargs) -> "ModelServer":
        extract_archive(archive, base_dir)
        return cls(base_dir, environment, **kwargs)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        tmp = os.path.join(self.base_dir, "tmp")
        if len(os.path.join(tmp, MMS_SOCKET_NAME)) > MAX_SOCKET_PATH:
            # MMS puts its workers' Unix sockets in the temporary folder, and a socket path is at most
            # 107 bytes (AF_UNIX): a deep state folder (pytest's) would leave every worker unable to start.
            self._short_tmp = self._short_tmp or tempfile.mkdtemp(prefix="mms-")
            tmp = self._short_tmp
        os.makedirs(tmp, exist_ok=True)
        # The machine's variables, minus anything that would make the workers import code from
        # outside the archive (the container's PYTHONPATH is empty: the toolkit adds code/).
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OMP_NUM_THREADS")}
        python_bin = os.path.dirname(self.python)
        env["PATH"] = python_bin + os.pathsep + env.get("PATH", "")  # `multi-model-server` of this Python
        env.update(self.extra_env)
        env.update(self.environment)
        env.update(
            {
                "SAGEMAKER_BASE_DIR": self.base_dir,
                "SAGEMAKER_BIND_TO_PORT": str(self.port),
                "MMS_INFERENCE_ADDRESS": self.url,
                "MMS_MANAGEMENT_ADDRESS": f"http://127.0.0.1:{mms_port()}",
                "DEVSTACK_MMS_CONFIG_FILE": os.path.join(self.base_dir, "sagemaker-mms.properties"),
                "TMPDIR": tmp,
                "TEMP": tmp,
            }
        )
        return env

    def start(self) -> str:
        """Start the stack (returns at once with the URL; see :meth:`wait_ready`)."""
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise JavaMissing(
                "Multi Model Server needs a Java runtime and `java` is not on PATH: "
                "install one (Debian/Ubuntu: `apt-get install default-jre-headless`; `make venv` does it)"
            )
        if self.port is None:
            self.port = mms_port()
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                # The folder is an argument only so that `ps` tells instances apart (the bootstrap ignores it).
                [self.python, "-c", BOOTSTRAP, self.base_dir],
                env=self._env(),
                cwd=self.base_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one process group: the toolkit, MMS's front end, its workers
                preexec_fn=_term_with_parent if self.die_with_parent else None,
            )
        finally:
            log.close()
        return self.url

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                return b"\n".join(handle.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ping(self, timeout_s: float = 2) -> bool:
        try:
            return requests.get(self.url + "/ping", timeout=timeout_s).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout_s: float = 180, loaded: bool = False) -> None:
        """Wait until ``/ping`` answers 200, as SageMaker waits before it marks an endpoint ``InService``.

        MMS answers ``/ping`` as soon as its workers are started, while they still load the
        model (``model_fn``: 5-15 s here), and queues requests meanwhile. With ``loaded``, also
        wait until a worker has answered an invocation (an empty JSON object, which the model
        refuses with a 4xx once it is loaded; nothing reaches S3).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the model server exited ({self.process.returncode}):\n{self.log_tail()}")
            if self.ping():
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the model server did not become ready in {timeout_s:.0f} s:\n{self.log_tail()}")
        if loaded:
            remaining = max(1.0, deadline - time.monotonic())
            try:
                requests.post(self.url + "/invocations", data=b"{}", timeout=remaining,
                              headers={"Content-Type": "application/json"})
            except requests.RequestException as error:
                raise RuntimeError(f"the model server did not answer an invocation: {error}\n{self.log_tail()}")

    def _group_processes(self):
        import psutil

        if not self.alive():
            return []
        found = []
        for process in psutil.process_iter():
            try:
                if os.getpgid(process.pid) == self.process.pid:
                    found.append(process)
            except (psutil.Error, OSError):
                continue
        return found

    def worker_pids(self) -> list[int]:
        """MMS's Python worker processes (``model_service_worker.py``)."""
        pids = []
        for process in self._group_processes():
            try:
                if any("model_service_worker" in part for part in process.cmdline()):
                    pids.append(process.pid)
            except Exception:  # noqa: BLE001 - a worker that just exited
                continue
        return sorted(pids)

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory per process of the stack (toolkit, front end, workers), by pid."""
        sizes = {}
        for process in self._group_processes():
            try:
                sizes[process.pid] = process.memory_info().rss
            except Exception:  # noqa: BLE001
                continue
        return sizes

    def terminate(self) -> None:
        """Ask the whole process group to stop (SIGTERM), without waiting; :meth:`stop` waits."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, timeout_s: float = 20) -> None:
        """End the whole process group (SIGTERM, then SIGKILL after ``timeout_s``)."""
        if self.process is None:
            return
        group = self.process.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    break
                self.process.poll()
                time.sleep(0.2)
            else:
                continue
            break
        self.process.poll()
        if self._short_tmp:
            shutil.rmtree(self._short_tmp, ignore_errors=True)
            self._short_tmp = None

    def __enter__(self) -> "ModelServer":
        self.start()
        try:
            self.wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
