"""SageMaker endpoints served by AWS's serving stack, and InvokeEndpoint relayed as SageMaker Runtime relays it.

The gap (moto 5.2.5): moto's CreateEndpoint starts nothing and its
InvokeEndpoint returns canned data. Here creating an endpoint starts MMS + the
SageMaker MXNet toolkit from the model archive the Pulumi program uploaded,
with the Model's declared environment (``devstack.endpoints``), and
InvokeEndpoint for it is relayed there. Answers follow
``contracts.invoke_endpoint``: 2xx passes through, any other status of the
container becomes ``ModelError`` (424, ``OriginalStatusCode``; MMS's 503 when
its job queue is full is the workflow's "busy"); a body over 6 MB is refused
with ``ValidationError`` before it reaches the container; a container that does
not answer gives ``ServiceUnavailable``. Error replies carry
``x-amzn-RequestId``, without which moto's error mapping fails outside any Catch.

**Fault injection** (tests and the local stack only; nothing of it is in the
model archive): the runtime setting ``invoke_endpoint_faults`` holds rules that
the next calls consume in arrival order, each answered as SageMaker would::

    {"id": "...", "kind": "throttle", "count": 2}               # ThrottlingException (400), twice
    {"id": "...", "kind": "throttle", "rate": 0.3, "seed": 1}   # 30% of calls, until cleared
    {"id": "...", "kind": "unavailable"}                        # ServiceUnavailable (503)
    {"id": "...", "kind": "not_ready"}                          # ModelNotReadyException (429)
    {"id": "...", "kind": "error", "count": 1}                  # the container answered 500: ModelError
    {"id": "...", "kind": "busy", "count": 1}                   # the container's queue was full (503): ModelError
    {"id": "...", "kind": "down", "count": 1}                   # the container did not answer: ServiceUnavailable
    {"id": "...", "kind": "slow", "delay_s": 30, "count": 1}    # then relayed to the container

Without ``count`` a rule applies to every call (``rate``: to that share of them,
drawn from ``random.Random(seed)``). Each rule's ``id`` names it: a new id is a
new rule. Set them with ``LocalStack.set_bridge(invoke_endpoint_faults=[...])``;
``[]`` clears them.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time

import requests

from contracts import invoke_endpoint as contract
from devstack.bridges._support import argument, bridge_settings, is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
SETTING = "invoke_endpoint_faults"
FAULT_KINDS = ("throttle", "unavailable", "not_ready", "error", "busy", "down", "slow")
#: How long the bridge waits for the container's answer.
CONTAINER_TIMEOUT_S = 120


def moto_reply(relayed: contract.Relayed) -> tuple[int, dict[str, str], str]:
    """A :class:`contracts.invoke_endpoint.Relayed` as moto's response tuple."""
    headers = dict(relayed.headers)
    if relayed.error:
        headers["status"] = str(relayed.status)  # moto takes the status from this header
    return relayed.status, headers, relayed.text


class FaultPlan:
    """The rules of the ``invoke_endpoint_faults`` setting, consumed in arrival order."""

    def __init__(self):
        self.used: dict[str, int] = {}
        self.randoms: dict[str, random.Random] = {}
        self.lock = threading.Lock()

    def next_fault(self, rules: list[dict]) -> dict | None:
        with self.lock:
            for rule in rules:
                if rule.get("kind") not in FAULT_KINDS:
                    raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}: {rule}")
                rule_id = str(rule["id"])
                if rule.get("count") is not None and self.used.get(rule_id, 0) >= int(rule["count"]):
                    continue
                chance = self.randoms.setdefault(rule_id, random.Random(rule.get("seed", 0)))  # nosec B311: tests
                if chance.random() >= float(rule.get("rate", 1.0)):
                    continue
                self.used[rule_id] = self.used.get(rule_id, 0) + 1
                return rule
        return None


FAULTS = FaultPlan()


def injected(fault: dict, endpoint_name: str) -> contract.Relayed | None:
    """SageMaker's answer for an injected fault (``None``: relay to the container after all)."""
    kind = fault["kind"]
    if kind == "throttle":
        return contract.service_error(400, contract.THROTTLING, "Rate exceeded")
    if kind in ("unavailable", "down"):
        return _unavailable(endpoint_name)
    if kind == "not_ready":
        return contract.service_error(429, contract.MODEL_NOT_READY, f"Model for endpoint {endpoint_name} is not ready")
    if kind == "error":
        body = json.dumps({"error": "injected_error", "message": "fault injected for testing"})
        return contract.relay(500, body, endpoint_name)
    if kind == "busy":  # MMS's own answer when its job queue is full
        body = json.dumps({"code": contract.BUSY_STATUS, "type": "ServiceUnavailableException",
                           "message": "Model \"model\" has no worker to serve inference request. Please use scale workers API to add workers."})
        return contract.relay(contract.BUSY_STATUS, body, endpoint_name)
    time.sleep(float(fault.get("delay_s", 1)))  # slow
    return None


def _unavailable(endpoint_name: str) -> contract.Relayed:
    return contract.service_error(503, contract.SERVICE_UNAVAILABLE, f"Endpoint {endpoint_name} has no healthy instance")


def _endpoints():
    """The local model servers. Imported on use: ``devstack.endpoints`` imports this package
    (its ``_support``), so a module-level import would be circular when it is imported first."""
    from devstack.endpoints import ENDPOINTS

    return ENDPOINTS


def relay(endpoint_name: str, body: bytes | str, content_type: str) -> tuple[int, dict[str, str], str]:
    """InvokeEndpoint for ``endpoint_name``, answered by its local model server."""
    url = _endpoints().url(endpoint_name)
    if url is None:
        return moto_reply(contract.service_error(
            400, contract.VALIDATION_ERROR, f"Endpoint {endpoint_name} of account local not found."))
    size = len(body or b"")
    if size > contract.MAX_PAYLOAD_BYTES:
        return moto_reply(contract.service_error(
            400, contract.VALIDATION_ERROR,
            f"Request body of {size} bytes is over the {contract.MAX_PAYLOAD_BYTES}-byte limit"))
    fault = FAULTS.next_fault(bridge_settings().get(SETTING) or [])
    if fault:
        answer = injected(fault, endpoint_name)
        if answer is not None:
            return moto_reply(answer)
    try:
        reply = requests.post(url + "/invocations", data=body, headers={"Content-Type": content_type},
                              timeout=CONTAINER_TIMEOUT_S)
    except requests.RequestException:
        return moto_reply(_unavailable(endpoint_name))
    return moto_reply(contract.relay(reply.status_code, reply.text, endpoint_name))


def _model_archive(model_data_url: str) -> bytes:
    from moto.s3.models import s3_backends

    from moto.core import DEFAULT_ACCOUNT_ID

    bucket, _, key = model_data_url[len("s3://"):].partition("/")
    account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    return s3_backends[account]["aws"].get_object(bucket, key).value


def _machine_env() -> dict[str, str]:
    """What the container gets from its instance, not from the Model: AWS's endpoints and the role's credentials."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ['MOTO_PORT']}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if is_installed(SageMakerRuntimeResponse.invoke_endpoint, __name__):
        return
    original_create = SageMakerModelBackend.create_endpoint

    def create_endpoint(*args, **kwargs):
        endpoint = original_create(*args, **kwargs)
        backend = args[0]
        endpoint_name = argument(original_create, "endpoint_name", args, kwargs)
        config = backend.describe_endpoint_config(argument(original_create, "endpoint_config_name", args, kwargs))
        model = backend.describe_model(config["ProductionVariants"][0]["ModelName"])
        container = model.primary_container or {}
        endpoint.endpoint_status = "Creating"

        def on_status(status: str, reason: str | None, endpoint=endpoint) -> None:  # DescribeEndpoint shows it
            endpoint.endpoint_status, endpoint.failure_reason = status, reason

        _endpoints().start(endpoint_name, _model_archive(container["ModelDataUrl"]), container.get("Environment") or {},
                        on_status, extra_env=_machine_env())
        return endpoint

    def invoke_endpoint(self):
        return relay(self.path.split("/")[2], self.body, self.headers.get("Content-Type", "application/json"))

    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerRuntimeResponse.invoke_endpoint = mark(invoke_endpoint, __name__, SageMakerRuntimeResponse.invoke_endpoint)
