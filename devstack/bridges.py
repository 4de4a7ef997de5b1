"""Bridges over moto's gaps, so the deployed wiring runs as it would on AWS.

Measured with moto 5.2.5 (pinned in constraints.txt: these patches touch its
internals). Each bridge names the gap it closes. :func:`install` applies them
all, inside the moto server's own process (``devstack.moto_process``).

1. **EventBridge -> Step Functions** (:func:`_bridge_rule_targets`): moto's rules
   deliver to SQS, logs and buses, but a Step Functions target raises
   ``NotImplementedError``, which S3 swallows (and which stops delivery to the
   rules after it). The rule's own pattern still decides; matching events start
   a uniquely named execution (as AWS's target does), and an event that cannot
   be delivered goes to the target's dead-letter queue, as on AWS. moto's S3
   event also differs from AWS's in shape (epoch ``time``, ``eTag``, a
   ``version-id`` of null): those are normalised first.
2. **InvokeEndpoint from the interpreter** (:func:`_bridge_aws_sdk_integration`):
   moto's interpreter fails on ``aws-sdk:sagemakerruntime`` ("Unknown service":
   botocore knows ``sagemaker-runtime``); it leaves the response's streaming
   ``Body`` unread (so ``States.StringToJson($.Body)`` fails); it names SDK
   errors ``sagemakerruntime.…`` where AWS uses ``SageMakerRuntime.…``.
3. **Error names** (see ``state_machine.definition``): botocore's
   sagemaker-runtime model has no ``ThrottlingException``; a throttled call is
   an unmodelled error, reported ``SageMakerRuntime.SageMakerRuntimeException``
   as the SDK behind Step Functions does (``sdk`` naming, the default). With
   ``code`` naming, errors are named by their code
   (``SageMakerRuntime.ThrottlingException``). Tests drive both.
4. **The endpoint** (:func:`_bridge_sagemaker`): moto's InvokeEndpoint returns
   canned data. Creating an endpoint here starts the local inference server from
   the model archive the Pulumi program uploaded (as SageMaker does), and
   InvokeEndpoint for it is routed there; the container's answers are mapped to
   SageMaker Runtime's errors (429 -> ThrottlingException, 503 ->
   ServiceUnavailable, other non-2xx -> ModelError with OriginalStatusCode).
   Error replies carry ``x-amzn-RequestId``, without which moto's error mapping
   fails outside any Catch.
5. **Lambda** (:func:`_bridge_lambda`): moto runs functions only in Docker; with
   ``lambda.use_docker=False`` it returns canned text. The deployed function's
   handler is run in-process from its code archive, with its environment.
6. **Bucket-policy conditions** (:func:`_bridge_bucket_policy_conditions`): moto
   evaluates a bucket policy without the request's context and treats a
   statement whose condition does not hold as a denial, and its ``Bool``
   operator holds for any value; so the TLS-only policy
   (``Deny`` when ``aws:SecureTransport`` is ``false``) denies every request.
   Requests to the local stack stand for the SDK's HTTPS requests on AWS, so
   they are evaluated with ``aws:SecureTransport`` = ``true``, and a statement
   applies only when its ``Bool`` conditions hold.
"""

from __future__ import annotations

import datetime
import importlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
import uuid
import zipfile
from typing import Any

import requests

LOG = logging.getLogger("devstack.bridges")

#: JSON file with runtime settings the tests may change while the server runs.
SETTINGS_ENV = "DEVSTACK_BRIDGE_SETTINGS"
STATE_DIR_ENV = "DEVSTACK_STATE_DIR"
DEFAULT_SETTINGS = {"sdk_error_naming": "sdk"}


def bridge_settings() -> dict[str, Any]:
    path = os.environ.get(SETTINGS_ENV)
    settings = dict(DEFAULT_SETTINGS)
    if path and os.path.exists(path):
        with open(path) as handle:
            settings.update(json.load(handle))
    return settings


def state_dir() -> str:
    path = os.environ.get(STATE_DIR_ENV) or os.path.join(os.getcwd(), ".devstack")
    os.makedirs(path, exist_ok=True)
    return path


# --- 1. EventBridge -> Step Functions -------------------------------------------------------


def aws_shaped_s3_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto's S3 EventBridge event in the shape AWS sends it."""
    shaped = json.loads(json.dumps(event))
    if isinstance(shaped.get("time"), (int, float)):
        shaped["time"] = datetime.datetime.fromtimestamp(shaped["time"], datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    shaped["id"] = str(uuid.uuid4())
    obj = (shaped.get("detail") or {}).get("object")
    if isinstance(obj, dict):
        if "eTag" in obj:
            obj["etag"] = obj.pop("eTag")
        if obj.get("version-id") in (None, "null"):  # AWS omits it for unversioned buckets
            obj.pop("version-id", None)
    return shaped


def _start_execution(account: str, region: str, state_machine_arn: str, event: dict[str, Any]) -> str:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account][region]
    execution = backend.start_execution(state_machine_arn, name=str(uuid.uuid4()), execution_input=json.dumps(event))
    return execution.execution_arn


def _dead_letter(account: str, region: str, target: dict[str, Any], event: dict[str, Any], error: Exception) -> None:
    from moto.sqs.models import sqs_backends

    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        LOG.error("undeliverable event dropped (no dead-letter queue): %s", error)
        return
    queue_name = queue_arn.split(":")[-1]
    sqs_backends[account][region].send_message(
        queue_name=queue_name,
        message_body=json.dumps(event),
        message_attributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": type(error).__name__},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(error)[:256]},
            "RULE_ARN": {"DataType": "String", "StringValue": target.get("_rule_arn", "")},
            "TARGET_ARN": {"DataType": "String", "StringValue": target["Arn"]},
        },
    )


def _bridge_rule_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets
    if getattr(original, "_devstack_bridge", False):
        return

    def send_to_targets(self, original_event, transform_input: bool = True):
        workflow_targets = [t for t in self.targets if ":states:" in t["Arn"] and ":stateMachine:" in t["Arn"]]
        if workflow_targets and self.event_pattern.matches_event(original_event):
            event = aws_shaped_s3_event(original_event) if original_event.get("source") == "aws.s3" else original_event
            for target in workflow_targets:
                try:
                    arn = _start_execution(self.account_id, self.region_name, target["Arn"], event)
                    LOG.info("rule %s started %s", self.name, arn)
                except Exception as error:  # deliver failures to the target's DLQ, as AWS does
                    _dead_letter(self.account_id, self.region_name, {**target, "_rule_arn": self.arn}, event, error)
        others = [t for t in self.targets if t not in workflow_targets]
        if others:
            kept = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = kept

    send_to_targets._devstack_bridge = True
    Rule.send_to_targets = send_to_targets


# --- 2 and 3. aws-sdk:sagemakerruntime in the interpreter -----------------------------------------


def _bridge_aws_sdk_integration() -> None:
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk as sdk

    cls = sdk.StateTaskServiceAwsSdk
    if getattr(cls, "_devstack_bridge", False):
        return
    sdk._SERVICE_ERROR_NAMES["sagemakerruntime"] = "SageMakerRuntime"

    original_service_name = cls._get_boto_service_name

    def _get_boto_service_name(self, boto_service_name=None):
        name = original_service_name(self, boto_service_name)
        return "sagemaker-runtime" if name == "sagemakerruntime" else name

    original_eval = cls._eval_service_task

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        original_eval(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack[-1]
        if isinstance(response, dict):
            for key, value in list(response.items()):
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8")

    original_exception_name = cls._normalise_exception_name

    def _normalise_exception_name(norm_service_name, ex):
        if isinstance(ex, ClientError) and bridge_settings()["sdk_error_naming"] == "code":
            code = ex.response.get("Error", {}).get("Code") or "Unknown"
            name = f"{norm_service_name}.{code}"
            return name if name.endswith("Exception") else name + "Exception"
        return original_exception_name(norm_service_name, ex)

    cls._get_boto_service_name = _get_boto_service_name
    cls._eval_service_task = _eval_service_task
    cls._normalise_exception_name = staticmethod(_normalise_exception_name)
    cls._devstack_bridge = True


# --- 4. SageMaker endpoints served by the local inference server ----------------------------------


class LocalEndpoints:
    """Inference servers started for created endpoints, keyed by endpoint name."""

    def __init__(self):
        self.urls: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

    def start(self, endpoint_name: str, model_data_url: str, environment: dict[str, str]) -> str:
        from moto.s3.models import s3_backends

        bucket, _, key = model_data_url[len("s3://") :].partition("/")
        account = os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
        obj = s3_backends[account]["aws"].get_object(bucket, key)
        target = os.path.join(state_dir(), "endpoints", endpoint_name)
        if os.path.exists(target):
            import shutil

            shutil.rmtree(target)
        os.makedirs(target)
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(obj.value), mode="r:gz") as archive:
            archive.extractall(target, filter="data")
        port = _free_port()
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
        if old:
            old.terminate()
        with open(os.path.join(state_dir(), "endpoints.json"), "w") as handle:
            json.dump(self.urls, handle)
        return url

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


ENDPOINTS = LocalEndpoints()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def _bridge_sagemaker() -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if getattr(SageMakerRuntimeResponse, "_devstack_bridge", False):
        return
    original_create = SageMakerModelBackend.create_endpoint

    def create_endpoint(self, endpoint_name, endpoint_config_name, tags):
        endpoint = original_create(self, endpoint_name, endpoint_config_name, tags)
        config = self.describe_endpoint_config(endpoint_config_name)
        model = self.describe_model(config["ProductionVariants"][0]["ModelName"])
        container = model.primary_container or {}
        ENDPOINTS.start(endpoint_name, container["ModelDataUrl"], container.get("Environment") or {})
        endpoint.endpoint_status = "Creating"
        threading.Thread(target=_mark_in_service, args=(endpoint, endpoint_name), daemon=True).start()
        return endpoint

    def invoke_endpoint(self):
        endpoint_name = self.path.split("/")[2]
        url = ENDPOINTS.urls.get(endpoint_name)
        if url is None:
            return _error_reply(400, "ValidationError", f"Endpoint {endpoint_name} of account local not found.")
        try:
            reply = requests.post(
                url + "/invocations",
                data=self.body,
                headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                timeout=120,
            )
        except requests.ConnectionError:
            # The container is down: SageMaker answers that the model is not ready.
            return _error_reply(503, "ServiceUnavailable", f"Endpoint {endpoint_name} has no healthy instance")
        return map_container_reply(reply.status_code, reply.text, endpoint_name)

    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
    SageMakerRuntimeResponse._devstack_bridge = True


def _mark_in_service(endpoint, endpoint_name: str, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        url = ENDPOINTS.urls.get(endpoint_name)
        try:
            if url and requests.get(url + "/ping", timeout=2).status_code == 200:
                endpoint.endpoint_status = "InService"
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    endpoint.endpoint_status = "Failed"


# --- 5. Lambda in-process ------------------------------------------------------------------------


class _Context:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, fn):
        self.function_name = fn.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = int(fn.memory_size or 128)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.time() + float(fn.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


_HANDLERS: dict[str, Any] = {}
_HANDLERS_LOCK = threading.Lock()


def _load_handler(fn) -> Any:
    """Import the function's handler from its own code archive (once per code version)."""
    key = f"{fn.function_name}:{fn.code_digest}"
    with _HANDLERS_LOCK:
        if key in _HANDLERS:
            return _HANDLERS[key]
        target = os.path.join(state_dir(), "lambdas", f"{fn.function_name}-{fn.code_digest[:12]}")
        if not os.path.exists(target):
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(target)  # nosec B202: our own build; zipfile drops absolute and ".." paths
        if target not in sys.path:
            sys.path.insert(0, target)
        module_name, attribute = fn.handler.rsplit(".", 1)
        # The function's SDK calls go to this local AWS, as on AWS they go to the region's endpoints.
        os.environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{os.environ['MOTO_PORT']}")
        for variable, value in (fn.environment_vars or {}).items():
            os.environ[variable] = value
        module = importlib.import_module(module_name)
        handler = getattr(module, attribute)
        _HANDLERS[key] = handler
        return handler


def _bridge_lambda() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if getattr(LambdaSimpleBackend.invoke, "_devstack_bridge", False):
        return

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)
        event = json.loads(body) if body else {}
        try:
            handler = _load_handler(fn)
            result = handler(event, _Context(fn))
            payload = json.dumps(result)
        except Exception as error:  # a function error, reported as Lambda reports it
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
                }
            )
        response_headers["Content-Length"] = str(len(payload))
        return payload.encode("utf-8")

    invoke._devstack_bridge = True
    LambdaSimpleBackend.invoke = invoke


# --- 6. Bucket policies evaluated with the request's context ---------------------------------

#: What a request to the local stack stands for: an SDK request over HTTPS.
LOCAL_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def statement_applies(statement: dict[str, Any], context: dict[str, str] = LOCAL_REQUEST_CONTEXT) -> bool:
    """Whether the statement's ``Bool`` conditions hold for ``context`` (other operators: as moto decides)."""
    for operator, pairs in (statement.get("Condition") or {}).items():
        if operator == "Bool":
            for key, expected in pairs.items():
                if str(context.get(key, "")).lower() != str(expected).lower():
                    return False
    return True


def _bridge_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    if getattr(FakeBucket.get_permission, "_devstack_bridge", False):
        return

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        applicable = []
        for statement in statements:
            if statement_applies(statement):
                applicable.append({k: v for k, v in statement.items() if not (k == "Condition" and set(v) == {"Bool"})})
        if not applicable:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": applicable})).is_action_permitted(action, resource)

    get_permission._devstack_bridge = True
    FakeBucket.get_permission = get_permission


# --- Fault injection for tests: DynamoDB throttling ------------------------------------------------

_CONSUMED: dict[str, int] = {}
_CONSUMED_LOCK = threading.Lock()


def _take_fault(name: str) -> bool:
    """Whether this call should fail: settings ``{name: {"id": ..., "count": n}}`` fail the next n calls."""
    fault = bridge_settings().get(name)
    if not fault:
        return False
    with _CONSUMED_LOCK:
        used = _CONSUMED.get(fault["id"], 0)
        if used >= int(fault["count"]):
            return False
        _CONSUMED[fault["id"]] = used + 1
        return True


def _fault_dynamodb_throttling() -> None:
    """Not a gap: a switch for tests. moto never throttles; this makes PutItem answer
    ``ProvisionedThroughputExceededException`` for the next n calls."""
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.put_item, "_devstack_bridge", False):
        return
    original = DynamoDBBackend.put_item

    def put_item(self, *args, **kwargs):
        if _take_fault("dynamodb_put_throttle"):
            raise DynamodbException(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        return original(self, *args, **kwargs)

    put_item._devstack_bridge = True
    DynamoDBBackend.put_item = put_item


def install() -> None:
    """Apply every bridge and set moto's config (call before serving)."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    _bridge_rule_targets()
    _bridge_aws_sdk_integration()
    _bridge_sagemaker()
    _bridge_lambda()
    _bridge_bucket_policy_conditions()
    _fault_dynamodb_throttling()

