"""SageMaker endpoints served by the local inference server.

The gap (moto 5.2.5): moto's InvokeEndpoint returns canned data. Here creating
an endpoint starts the local inference server from the model archive the
Pulumi program uploaded (``devstack.endpoints``, as SageMaker does), and
InvokeEndpoint for it is routed there; the container's answers are mapped to
SageMaker Runtime's errors (429 -> ThrottlingException, 503 ->
ServiceUnavailable, other non-2xx -> ModelError with OriginalStatusCode).
Error replies carry ``x-amzn-RequestId``, without which moto's error mapping
fails outside any Catch.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import requests

from devstack.bridges._support import argument, is_installed, mark, require_moto
from devstack.endpoints import ENDPOINTS

TESTED_MOTO = ("5.2.5",)


def _error_reply(status: int, code: str, message: str, **extra) -> tuple[int, dict[str, str], str]:
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": str(uuid.uuid4()),
        "status": str(status),  # moto takes the status from this header
    }
    return status, headers, json.dumps({"message": message, "Message": message, **extra})


def map_container_reply(status: int, body: str, endpoint_name: str) -> tuple[int, dict[str, str], str]:
    """The container's HTTP answer as SageMaker Runtime would relay it."""
    if status == 200:
        return 200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, body
    if status == 429:
        return _error_reply(400, "ThrottlingException", "Rate exceeded")
    if status == 503:
        return _error_reply(503, "ServiceUnavailable", "Service is unavailable, please retry")
    return _error_reply(
        424,
        "ModelError",
        f"Received client error ({status}) from primary with message \"{body}\". See logs for endpoint {endpoint_name}.",
        OriginalStatusCode=status,
        OriginalMessage=body,
        LogStreamArn=f"arn:aws:logs:local:endpoint/{endpoint_name}",
    )


def relay(endpoint_name: str, body: bytes | str, content_type: str) -> tuple[int, dict[str, str], str]:
    """InvokeEndpoint for ``endpoint_name``, answered by its local server."""
    url = ENDPOINTS.url(endpoint_name)
    if url is None:
        return _error_reply(400, "ValidationError", f"Endpoint {endpoint_name} of account local not found.")
    try:
        reply = requests.post(url + "/invocations", data=body, headers={"Content-Type": content_type}, timeout=120)
    except requests.ConnectionError:
        # The container is down: SageMaker answers that the model is not ready.
        return _error_reply(503, "ServiceUnavailable", f"Endpoint {endpoint_name} has no healthy instance")
    return map_container_reply(reply.status_code, reply.text, endpoint_name)


def _model_archive(model_data_url: str) -> bytes:
    from moto.s3.models import s3_backends

    bucket, _, key = model_data_url[len("s3://"):].partition("/")
    from moto.core import DEFAULT_ACCOUNT_ID

    account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    return s3_backends[account]["aws"].get_object(bucket, key).value


def _mark_in_service(endpoint, endpoint_name: str, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        url = ENDPOINTS.url(endpoint_name)
        try:
            if url and requests.get(url + "/ping", timeout=2).status_code == 200:
                endpoint.endpoint_status = "InService"
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    endpoint.endpoint_status = "Failed"


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
        ENDPOINTS.start(endpoint_name, _model_archive(container["ModelDataUrl"]), container.get("Environment") or {})
        endpoint.endpoint_status = "Creating"

        def on_status(status: str, reason: str | None, endpoint=endpoint) -> None:  # DescribeEndpoint shows it
            endpoint.endpoint_status, endpoint.failure_reason = status, reason

        ENDPOINTS.listen(endpoint_name, on_status)
        threading.Thread(target=_mark_in_service, args=(endpoint, endpoint_name), daemon=True).start()
        return endpoint

    def invoke_endpoint(self):
        return relay(self.path.split("/")[2], self.body, self.headers.get("Content-Type", "application/json"))

    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerRuntimeResponse.invoke_endpoint = mark(invoke_endpoint, __name__, SageMakerRuntimeResponse.invoke_endpoint)
