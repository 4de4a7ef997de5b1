"""Start the local stack: moto (with bridges) -> deploy the Pulumi program -> endpoint in service.

``.devstack/stack.json`` records where everything is, for the other commands
and for any tooling: ``endpoint_url``, ``region``, ``livestream_bucket``,
``stream_prefix``, ``table_name``, ``dlq_url``, ``events_dlq_url``, ``intake_queue_url``,
``state_machine_arn``, ``endpoint_name``, ``inference_url``, ``alert_bus_name``,
``alerts_queue_url``, ``pid`` (the local AWS server) and ``owner_pid`` (the
``up``/``demo`` process).

One stack per state directory: ``start`` takes an exclusive lock on
``<state dir>/stack.lock`` for the life of the owning process (the kernel drops
it when that process ends, however it ends), so a second ``up`` or ``demo``
refuses instead of overwriting a running stack, and a ``stack.json`` whose lock
is free is known to be stale. The local AWS server runs in its own process group,
which :meth:`LocalStack.stop` ends as a whole; it stops the endpoints' model servers
(each in its own process group) as it stops, and also stops by itself when its owner
disappears.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from devstack.bridges import MOTO_CONFIG, SETTINGS_ENV, STATE_DIR_ENV
from devstack.errors import DevstackError, NoLocalStack, StackAlreadyRunning
from devstack.ports import free_port
from infra.settings import ROOT

#: The state directory: ``$DEVSTACK_STATE_DIR`` or ``.devstack`` in the repository.
STATE_DIR = os.environ.get(STATE_DIR_ENV) or os.path.join(ROOT, ".devstack")
STACK_FILE = "stack.json"
LOCK_FILE = "stack.lock"
REGION = "us-east-1"
#: The local AWS accepts any credentials; clients of the local stack use these, never the user's.
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
#: The moto server stops when the process whose pid this names is gone.
OWNER_PID_ENV = "DEVSTACK_OWNER_PID"
MODEL_DIR = os.path.join(ROOT, "model", "artifacts")
#: The keys of ``stack.json`` (README "The local stack" lists each).
STACK_KEYS = (
    "endpoint_url", "region", "livestream_bucket", "stream_prefix", "table_name", "dlq_url", "events_dlq_url",
    "intake_queue_url", "state_machine_arn", "endpoint_name", "inference_url", "alert_bus_name", "alerts_queue_url", "pid", "owner_pid",
    "episodes_table_name", "episodes_function_name", "evidence_prefix",
)



def aws_env(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }


def require_model(model_dir: str = MODEL_DIR) -> None:
    """The local endpoint serves the exported model: say how to make one if it is missing."""
    if not os.path.exists(os.path.join(model_dir, "model-0000.params")):
        raise DevstackError(
            f"no exported model in {os.path.relpath(model_dir, ROOT)}/: run `make model` "
            "(random weights, works offline), or see README 'Model' for real weights"
        )


class StackLock:
    """An exclusive lock on a state directory, held while a stack runs from it."""

    def __init__(self, state_dir: str):
        self.path = os.path.join(state_dir, LOCK_FILE)
        self.handle = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise StackAlreadyRunning(
                f"a local stack is already running from {os.path.dirname(self.path)} (pid {owner}): "
                "use it, or stop it first (Ctrl-C or `kill` on that pid)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def held_elsewhere(self) -> bool:
        """Whether some process holds the lock (checked by taking it for an instant)."""
        if not os.path.exists(self.path):
            return False
        with open(self.path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


@contextlib.contextmanager
def stop_on_signals(signals=(signal.SIGTERM, signal.SIGHUP)):
    """Turn SIGTERM/SIGHUP into ``SystemExit`` so that ``finally`` blocks stop the stack."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def start_moto(state_dir: str, settings_file: str) -> tuple[subprocess.Popen, str]:
    """moto's server with the bridges (``devstack.moto_process``) on a free port; returns it and its URL.

    It runs in its own process group (it stops the model servers it starts), and
    stops by itself when the calling process is gone (``DEVSTACK_OWNER_PID``).
    """
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **aws_env(endpoint_url), SETTINGS_ENV: settings_file, STATE_DIR_ENV: state_dir}
    env.pop("AWS_ENDPOINT_URL", None)  # moto itself must not point at itself for its own calls
    env["PYTHONPATH"] = ROOT
    env[OWNER_PID_ENV] = str(os.getpid())
    server_log = os.path.join(state_dir, "moto.log")
    with open(server_log, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.moto_process", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def configured() -> bool:  # the server answers once up; the bridges' moto config is set just after
        if process.poll() is not None:
            raise DevstackError(f"the local AWS server exited with status {process.returncode}; see {server_log}")
        config = requests.get(endpoint_url + "/moto-api/config", timeout=1).json()
        return config.get("lambda") == MOTO_CONFIG["lambda"]

    _wait(configured, 30, "moto")
    return process, endpoint_url


@dataclass
class LocalStack:
    """A running local stack; use as a context manager or call :meth:`stop`."""

    state_dir: str = STATE_DIR
    overrides: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    lock: StackLock | None = None
    #: The episodes sweep runs this often (on AWS: EventBridge Scheduler, ``sweepSchedule``); None: no timer.
    sweep_seconds: float | None = 10.0
    _sweeping: threading.Event = field(default_factory=threading.Event)

    @property
    def settings_file(self) -> str:
        return os.path.join(self.state_dir, "bridges.json")

    def set_bridge(self, **settings: Any) -> None:
        """Change the bridges' runtime settings (e.g. ``sdk_error_naming="code"``)."""
        current = {}
        if os.path.exists(self.settings_file):
            with open(self.settings_file) as handle:
                current = json.load(handle)
        current.update(settings)
        with open(self.settings_file, "w") as handle:
            json.dump(current, handle)

    def start(self, log=print) -> dict[str, Any]:
        self.lock = StackLock(self.state_dir)
        self.lock.acquire()
        try:
            return self._start(log)
        except BaseException:
            self.stop()
            raise

    def _start(self, log) -> dict[str, Any]:
        stack_file = os.path.join(self.state_dir, STACK_FILE)
        if os.path.exists(stack_file):
            os.remove(stack_file)  # stale: we hold the lock, so nothing runs from it
        with open(self.settings_file, "w") as handle:
            json.dump({}, handle)
        self.process, endpoint_url = start_moto(self.state_dir, self.settings_file)
        log(f"local AWS (moto {_moto_version()}) on {endpoint_url}")
        os.environ.update(aws_env(endpoint_url))
        from devstack.deploy import deploy, summary

        started = time.time()
        outputs, mocks = deploy(endpoint_url, overrides=self.overrides)
        parts = summary(mocks)
        log(f"deployed the Pulumi program in {time.time() - started:.1f} s: {len(parts['created'])} resource types created, "
            f"recorded only: {', '.join(t.split(':')[-1] for t in parts['recorded_only']) or 'none'}")
        sagemaker = boto3.client("sagemaker", endpoint_url=endpoint_url, region_name=REGION, **LOCAL_CREDENTIALS)
        _wait(
            lambda: sagemaker.describe_endpoint(EndpointName=outputs["endpoint_name"])["EndpointStatus"] == "InService",
            180,
            "the endpoint",
        )
        with open(os.path.join(self.state_dir, "endpoints.json")) as handle:
            inference_url = json.load(handle)[outputs["endpoint_name"]]
        alerts_queue_url = self._watch_alerts(endpoint_url, outputs.get("alert_bus_name"))
        if self.sweep_seconds:
            self._start_sweeps(endpoint_url, outputs["episodes_function_name"])
        self.info = {
            "endpoint_url": endpoint_url,
            "region": REGION,
            "livestream_bucket": outputs["livestream_bucket"],
            "stream_prefix": outputs["stream_prefix"],
            "table_name": outputs["table_name"],
            "dlq_url": outputs["workflow_dlq_url"],
            "events_dlq_url": outputs["events_dlq_url"],
            "intake_queue_url": outputs["intake_queue_url"],
            "state_machine_arn": outputs["state_machine_arn"],
            "endpoint_name": outputs["endpoint_name"],
            "inference_url": inference_url,
            "alert_bus_name": outputs.get("alert_bus_name"),
            "episodes_table_name": outputs.get("episodes_table_name"),
            "episodes_function_name": outputs.get("episodes_function_name"),
            "evidence_prefix": outputs.get("evidence_prefix"),
            "alerts_queue_url": alerts_queue_url,
            "pid": self.process.pid,
            "owner_pid": os.getpid(),
        }
        with open(stack_file, "w") as handle:
            json.dump(self.info, handle, indent=2)
        log(f"endpoint {outputs['endpoint_name']} in service at {inference_url}")
        return self.info

    def _watch_alerts(self, endpoint_url: str, bus_name: str | None) -> str | None:
        """Locally, the bus's events land in a queue (a rule on the bus) that `devstack alerts` reads.

        On AWS rules on the same bus feed the SNS topic (``alertEmail``); this queue is the local stand-in.
        """
        if not bus_name:
            return None
        from contracts.events import SOURCE

        sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=REGION, **LOCAL_CREDENTIALS)
        events = boto3.client("events", endpoint_url=endpoint_url, region_name=REGION, **LOCAL_CREDENTIALS)
        url = sqs.create_queue(QueueName="devstack-alerts")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="devstack-alerts", EventBusName=bus_name, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="devstack-alerts", EventBusName=bus_name, Targets=[{"Id": "local-queue", "Arn": arn}])
        return url

    def _start_sweeps(self, endpoint_url: str, function_name: str) -> None:
        """The local stand-in for the EventBridge Scheduler schedule: invoke the sweep on a timer."""
        client = boto3.client("lambda", endpoint_url=endpoint_url, region_name=REGION, **LOCAL_CREDENTIALS)

        def loop() -> None:
            while not self._sweeping.wait(self.sweep_seconds):
                try:
                    client.invoke(FunctionName=function_name, Payload=json.dumps({"sweep": True}).encode())
                except Exception:  # the stack is going down, or a transient error: the next tick retries  # nosec B112
                    continue

        threading.Thread(target=loop, name="episodes-sweep", daemon=True).start()

    def stop(self) -> None:
        """Stop the local AWS (the whole process group; it stops the endpoints' model servers), then unlock."""
        self._sweeping.set()
        if self.process:
            group = self.process.pid  # start_new_session: the group id is the server's pid
            _signal_group(group, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.time() + 10
            while _group_alive(group) and time.time() < deadline:
                time.sleep(0.1)
            _signal_group(group, signal.SIGKILL)
            if self.process.poll() is None:
                self.process.wait(5)
        if self.lock and self.lock.handle:
            stack_file = os.path.join(self.state_dir, STACK_FILE)
            if os.path.exists(stack_file):
                os.remove(stack_file)
            self.lock.release()
        for variable in ("AWS_ENDPOINT_URL",):
            os.environ.pop(variable, None)

    def __enter__(self) -> "LocalStack":
        self.start(log=lambda *_: None)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def load_stack(state_dir: str | None = None) -> dict[str, Any]:
    """The running local stack's ``stack.json``; :class:`NoLocalStack` if none runs from ``state_dir``."""
    state_dir = state_dir or STATE_DIR
    path = os.path.join(state_dir, STACK_FILE)
    hint = "start one with `python -m devstack up` (or pass --aws for a deployment)"
    if not os.path.exists(path):
        raise NoLocalStack(f"no local stack running ({path} is missing): {hint}")
    if not StackLock(state_dir).held_elsewhere():
        raise NoLocalStack(f"no local stack running ({path} is left from a stack that stopped): {hint}")
    with open(path) as handle:
        return json.load(handle)


def _moto_version() -> str:
    import moto

    return moto.__version__


def _wait(ready, timeout_s: float, what: str) -> None:
    deadline = time.time() + timeout_s
    last_error = None
    while time.time() < deadline:
        try:
            if ready():
                return
        except Exception as error:  # not up yet
            last_error = error
        time.sleep(0.3)
    raise TimeoutError(f"{what} did not come up within {timeout_s:.0f} s (last error: {last_error})")
