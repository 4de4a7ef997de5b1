"""Start the local stack: moto (with bridges) -> deploy the Pulumi program -> endpoint in service.

``.devstack/stack.json`` records where everything is, for the other commands
and for any tooling: ``endpoint_url``, ``region``, ``livestream_bucket``,
``stream_prefix``, ``table_name``, ``dlq_url``, ``events_dlq_url``,
``state_machine_arn``, ``endpoint_name``, ``inference_url``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from devstack.bridges import MOTO_CONFIG, SETTINGS_ENV, STATE_DIR_ENV
from devstack.ports import free_port
from infra.settings import ROOT

STATE_DIR = os.path.join(ROOT, ".devstack")
STACK_FILE = "stack.json"
REGION = "us-east-1"


def aws_env(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


def start_moto(state_dir: str, settings_file: str) -> tuple[subprocess.Popen, str]:
    """moto's server with the bridges (``devstack.moto_process``) on a free port; returns it and its URL."""
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **aws_env(endpoint_url), SETTINGS_ENV: settings_file, STATE_DIR_ENV: state_dir}
    env.pop("AWS_ENDPOINT_URL", None)  # moto itself must not point at itself for its own calls
    env["PYTHONPATH"] = ROOT
    server_log = open(os.path.join(state_dir, "moto.log"), "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.moto_process", str(port)], cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT
    )

    def configured() -> bool:  # the server answers once up; the bridges' moto config is set just after
        if process.poll() is not None:
            raise SystemExit(f"moto exited with status {process.returncode}; see {server_log.name}")
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
        os.makedirs(self.state_dir, exist_ok=True)
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
        sagemaker = boto3.client("sagemaker", endpoint_url=endpoint_url, region_name=REGION)
        _wait(
            lambda: sagemaker.describe_endpoint(EndpointName=outputs["endpoint_name"])["EndpointStatus"] == "InService",
            180,
            "the endpoint",
        )
        with open(os.path.join(self.state_dir, "endpoints.json")) as handle:
            inference_url = json.load(handle)[outputs["endpoint_name"]]
        alerts_queue_url = self._watch_alerts(endpoint_url, outputs.get("alert_bus_name"))
        self.info = {
            "endpoint_url": endpoint_url,
            "region": REGION,
            "livestream_bucket": outputs["livestream_bucket"],
            "stream_prefix": outputs["stream_prefix"],
            "table_name": outputs["table_name"],
            "dlq_url": outputs["workflow_dlq_url"],
            "events_dlq_url": outputs["events_dlq_url"],
            "state_machine_arn": outputs["state_machine_arn"],
            "endpoint_name": outputs["endpoint_name"],
            "inference_url": inference_url,
            "alert_bus_name": outputs.get("alert_bus_name"),
            "alerts_queue_url": alerts_queue_url,
            "pid": self.process.pid,
        }
        with open(os.path.join(self.state_dir, STACK_FILE), "w") as handle:
            json.dump(self.info, handle, indent=2)
        log(f"endpoint {outputs['endpoint_name']} in service at {inference_url}")
        return self.info

    def _watch_alerts(self, endpoint_url: str, bus_name: str | None) -> str | None:
        """Locally, alerts land in a queue (a rule on the alert bus) that `devstack alerts` reads.

        On AWS the same rule feeds the SNS topic (``alertEmail``); this queue is the local stand-in.
        """
        if not bus_name:
            return None
        from state_machine.definition import ALERT_DETAIL_TYPE, ALERT_SOURCE

        sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=REGION)
        events = boto3.client("events", endpoint_url=endpoint_url, region_name=REGION)
        url = sqs.create_queue(QueueName="devstack-alerts")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="devstack-alerts",
            EventBusName=bus_name,
            EventPattern=json.dumps({"source": [ALERT_SOURCE], "detail-type": [ALERT_DETAIL_TYPE]}),
        )
        events.put_targets(Rule="devstack-alerts", EventBusName=bus_name, Targets=[{"Id": "local-queue", "Arn": arn}])
        return url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for variable in ("AWS_ENDPOINT_URL",):
            os.environ.pop(variable, None)

    def __enter__(self) -> "LocalStack":
        self.start(log=lambda *_: None)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def load_stack(state_dir: str = STATE_DIR) -> dict[str, Any]:
    path = os.path.join(state_dir, STACK_FILE)
    if not os.path.exists(path):
        raise SystemExit(f"no local stack: {path} is missing; run `python -m devstack up` first")
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
