"""Each bridge at work in moto's server (``devstack.moto_process``), without the Pulumi program."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import uuid
import zipfile

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.bridges import MOTO_CONFIG
from devstack.stack import REGION, start_moto

pytestmark = pytest.mark.slow  # a moto server, a model server (MMS) and Lambda instances: about 30 s

ROLE_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                        "Action": "sts:AssumeRole"}]}
#: The tests see every error the bridges produce (botocore would retry throttling away).
NO_RETRIES = Config(retries={"total_max_attempts": 1})


class Moto:
    def __init__(self, endpoint_url: str, settings_file: str):
        self.endpoint_url = endpoint_url
        self.settings_file = settings_file
        self.clients: dict[str, object] = {}

    def __getattr__(self, service: str):
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service.replace("_", "-"), endpoint_url=self.endpoint_url, region_name=REGION,
                aws_access_key_id="testing", aws_secret_access_key="testing", config=NO_RETRIES,
            )
        return self.clients[service]

    def settings(self, **settings) -> None:
        with open(self.settings_file, "w") as handle:
            json.dump(settings, handle)

    def role(self) -> str:
        name = f"role-{uuid.uuid4().hex[:8]}"
        return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))["Role"]["Arn"]

    def finished(self, execution_arn: str, timeout_s: float = 30) -> dict:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            described = self.stepfunctions.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.2)
        raise TimeoutError(execution_arn)

    def run(self, definition: dict, execution_input: dict | None = None) -> dict:
        machine = self.stepfunctions.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=self.role()
        )["stateMachineArn"]
        started = self.stepfunctions.start_execution(stateMachineArn=machine, input=json.dumps(execution_input or {}))
        return self.finished(started["executionArn"])


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    state = tmp_path_factory.mktemp("bridges")
    settings_file = str(state / "bridges.json")
    process, endpoint_url = start_moto(str(state), settings_file)
    try:
        yield Moto(endpoint_url, settings_file)
    finally:
        process.terminate()
        process.wait(20)


def test_interpreter_and_lambda_switched_on_through_the_public_config_api(moto):
    config = requests.get(moto.endpoint_url + "/moto-api/config", timeout=5).json()
    assert config["lambda"] == MOTO_CONFIG["lambda"]
    # The interpreter runs the definition (without it, moto's executions never leave RUNNING).
    assert moto.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ran": True}, "End": True}}}) [
        "output"] == json.dumps({"ran": True})


def test_rule_starts_executions_and_still_delivers_to_its_other_targets(moto):
    bucket, queue = f"b-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    dead_letters = moto.sqs.create_queue(QueueName=queue + "-dlq")["QueueUrl"]
    dlq_arn = moto.sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = moto.sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = moto.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    machine = moto.stepfunctions.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=moto.role(),
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    moto.s3.create_bucket(Bucket=bucket)
    moto.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    moto.events.put_rule(Name=bucket, EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}}))
    moto.events.put_targets(Rule=bucket, Targets=[
        {"Id": "workflow", "Arn": machine, "RoleArn": moto.role()},
        {"Id": "missing", "Arn": machine + "-missing", "RoleArn": moto.role(), "DeadLetterConfig": {"Arn": dlq_arn}},
        {"Id": "queue", "Arn": queue_arn},
    ])
    moto.s3.put_object(Bucket=bucket, Key="live/s/seg_1.ts", Body=b"x")

    (execution,) = moto.stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    event = json.loads(moto.finished(execution["executionArn"])["input"])
    assert event["detail"]["object"]["key"] == "live/s/seg_1.ts" and "etag" in event["detail"]["object"]
    assert isinstance(event["time"], str)
    (undeliverable,) = moto.sqs.receive_message(QueueUrl=dead_letters, MessageAttributeNames=["All"], WaitTimeSeconds=5)[
        "Messages"]
    assert undeliverable["MessageAttributes"]["TARGET_ARN"]["StringValue"] == machine + "-missing"
    (delivered,) = moto.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    queued = json.loads(delivered["Body"])  # in AWS's shape too (the intake queue's messages)
    assert queued["detail"]["object"]["key"] == "live/s/seg_1.ts" and "etag" in queued["detail"]["object"]
    assert isinstance(queued["time"], str) and "sequencer" in queued["detail"]["object"]
    assert moto.events.list_targets_by_rule(Rule=bucket)["Targets"][0]["Id"] == "workflow"  # the rule is unchanged


#: A user script for AWS's MXNet container (``SAGEMAKER_PROGRAM``): echoes the request, answers its "status".
ECHO_SCRIPT = '''
import json
import time


def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept, context=None):
    request = json.loads(body)
    time.sleep(request.get("sleep", 0))
    status = request.get("status", 200)
    if status != 200:
        context.set_response_status(code=status, phrase="Refused")
    return json.dumps({"echo": request}), "application/json"
'''


@pytest.fixture(scope="module")
def endpoint(moto):
    """An endpoint served by MMS + the SageMaker MXNet toolkit from a model archive holding a tiny user script."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("code/echo.py")
        info.size = len(ECHO_SCRIPT.encode())
        archive.addfile(info, io.BytesIO(ECHO_SCRIPT.encode()))
    bucket, name = f"models-{uuid.uuid4().hex[:8]}", f"ep-{uuid.uuid4().hex[:8]}"
    moto.s3.create_bucket(Bucket=bucket)
    moto.s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=buffer.getvalue())
    moto.sagemaker.create_model(ModelName=name, ExecutionRoleArn=moto.role(), PrimaryContainer={
        "Image": "local", "ModelDataUrl": f"s3://{bucket}/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "echo.py", "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "MMS_JOB_QUEUE_SIZE": "1"}})
    moto.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "v", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    moto.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert moto.sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating"
    moto.sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    return name


def _invoke_raw(moto, endpoint: str, request: dict) -> dict:
    with pytest.raises(ClientError) as refused:
        moto.sagemaker_runtime.invoke_endpoint(EndpointName=endpoint, Body=json.dumps(request),
                                               ContentType="application/json")
    return refused.value.response


def test_invoke_endpoint_is_relayed_to_the_model_server_as_sagemaker_relays_it(moto, endpoint):
    reply = moto.sagemaker_runtime.invoke_endpoint(EndpointName=endpoint, Body=json.dumps({"n": 1}),
                                                   ContentType="application/json")
    assert json.loads(reply["Body"].read()) == {"echo": {"n": 1}}
    # Any other status of the container is a ModelError carrying it (the workflow tells 503, "busy", by its cause).
    for status, kind in ((404, "client"), (429, "client"), (503, "server")):
        refused = _invoke_raw(moto, endpoint, {"status": status})
        assert (refused["Error"]["Code"], refused["OriginalStatusCode"]) == ("ModelError", status)
        assert f"Received {kind} error ({status}) from primary" in refused["Error"]["Message"]
        assert json.loads(refused["OriginalMessage"]) == {"echo": {"status": status}}
    with pytest.raises(ClientError) as missing:
        moto.sagemaker_runtime.invoke_endpoint(EndpointName="nowhere", Body="{}", ContentType="application/json")
    assert missing.value.response["Error"]["Code"] == "ValidationError"


def test_beyond_its_job_queue_mms_refuses_at_once_and_sagemaker_relays_it_as_busy(moto, endpoint):
    """The Model's MMS_JOB_QUEUE_SIZE (1 here, one worker) bounds the work: the rest get 503 at once."""
    from concurrent.futures import ThreadPoolExecutor

    from contracts import invoke_endpoint as contract

    def call(n):
        try:
            reply = moto.sagemaker_runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                                           Body=json.dumps({"n": n, "sleep": 2}))
            return 200, json.loads(reply["Body"].read())
        except ClientError as error:
            return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(call, range(5)))
    served = [body for status, body in answers if status == 200]
    busy = [body for status, body in answers if status != 200]
    assert served and busy, answers
    for refused in busy:
        assert (refused["Error"]["Code"], refused["OriginalStatusCode"]) == ("ModelError", contract.BUSY_STATUS)
        assert "Received server error (503)" in refused["Error"]["Message"]  # what the workflow's busy Choice matches
        relayed = contract.Relayed(424, refused["Error"]["Code"], {"OriginalStatusCode": refused["OriginalStatusCode"]})
        assert contract.is_retryable(relayed)


def test_faults_are_injected_in_the_bridge_as_sagemaker_errors(moto, endpoint):
    rules = [{"id": uuid.uuid4().hex, "kind": "throttle", "count": 2},
             {"id": uuid.uuid4().hex, "kind": "error", "count": 1},
             {"id": uuid.uuid4().hex, "kind": "down", "count": 1}]
    moto.settings(invoke_endpoint_faults=rules)
    try:
        codes = [_invoke_raw(moto, endpoint, {"n": n})["Error"]["Code"] for n in range(4)]
        reply = moto.sagemaker_runtime.invoke_endpoint(EndpointName=endpoint, Body=json.dumps({"n": 5}),
                                                       ContentType="application/json")
    finally:
        moto.settings()
    assert codes == ["ThrottlingException", "ThrottlingException", "ModelError", "ServiceUnavailable"]
    assert json.loads(reply["Body"].read()) == {"echo": {"n": 5}}  # every rule used up: the container answers


def _invoke_task(endpoint: str, body: str = "$") -> dict:
    return {"StartAt": "Invoke", "States": {"Invoke": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint",
        "Parameters": {"EndpointName": endpoint, "ContentType": "application/json", "Body.$": body},
        "ResultSelector": {"reply.$": "States.StringToJson($.Body)"}, "End": True}}}


def test_interpreter_calls_sagemakerruntime_and_reads_its_body(moto, endpoint):
    done = moto.run(_invoke_task(endpoint, "States.JsonToString($)"), {"n": 2})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"reply": {"echo": {"n": 2}}}


@pytest.mark.parametrize("naming,error", [("sdk", "SageMakerRuntime.SageMakerRuntimeException"),
                                          ("code", "SageMakerRuntime.ThrottlingException")])
def test_interpreter_names_sdk_errors_as_step_functions_does(moto, endpoint, naming, error):
    moto.settings(sdk_error_naming=naming, invoke_endpoint_faults=[{"id": uuid.uuid4().hex, "kind": "throttle"}])
    try:
        done = moto.run(_invoke_task(endpoint, "States.JsonToString($)"), {"n": 3})
    finally:
        moto.settings()
    assert (done["status"], done.get("error")) == ("FAILED", error)


def _function_zip(version: str) -> bytes:
    source = (f"import os\nVERSION = {version!r}\n"
              "def handler(event, context):\n"
              "    if event.get('fail'):\n        raise ValueError('asked to fail')\n"
              "    return {'version': VERSION, 'color': os.environ.get('COLOR'), 'pid': os.getpid(),\n"
              "            'request': context.aws_request_id}\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", source)
    return buffer.getvalue()


def _invoke(moto, name: str, event: dict) -> tuple[dict, str | None]:
    reply = moto.awslambda.invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(reply["Payload"].read()), reply.get("FunctionError")


@pytest.fixture
def functions(moto):
    moto.clients["awslambda"] = boto3.client("lambda", endpoint_url=moto.endpoint_url, region_name=REGION,
                                             aws_access_key_id="testing", aws_secret_access_key="testing",
                                             config=NO_RETRIES)
    names = [f"fn-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name, environment in zip(names, ({"COLOR": "blue"}, {})):
        moto.awslambda.create_function(FunctionName=name, Runtime="python3.11", Role=moto.role(), Handler="fn.handler",
                                       Code={"ZipFile": _function_zip("v1")}, Environment={"Variables": environment})
    return names


def test_lambda_runs_each_code_version_with_its_own_environment(moto, functions):
    first, second = functions
    reply, error = _invoke(moto, first, {})
    assert error is None and (reply["version"], reply["color"]) == ("v1", "blue")
    assert reply["pid"] != os.getpid()
    assert _invoke(moto, second, {})[0]["color"] is None  # the first function's environment stays its own
    moto.awslambda.update_function_code(FunctionName=first, ZipFile=_function_zip("v2"))
    assert _invoke(moto, first, {})[0]["version"] == "v2"  # no module cached across code versions


def test_lambda_function_errors_are_reported_as_lambda_reports_them(moto, functions):
    reply, error = _invoke(moto, functions[0], {"fail": True})
    assert error == "Unhandled"
    assert (reply["errorType"], reply["errorMessage"]) == ("ValueError", "asked to fail")


def test_tls_only_bucket_policy_lets_local_requests_through(moto):
    bucket = f"tls-{uuid.uuid4().hex[:8]}"
    moto.s3.create_bucket(Bucket=bucket)
    moto.s3.put_object(Bucket=bucket, Key="k", Body=b"v")

    def policy(secure: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"Bool": {"aws:SecureTransport": secure}}}]})

    moto.s3.put_bucket_policy(Bucket=bucket, Policy=policy("false"))
    assert moto.s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    moto.s3.put_bucket_policy(Bucket=bucket, Policy=policy("true"))  # a Deny whose condition holds still denies
    with pytest.raises(ClientError):
        moto.s3.get_object(Bucket=bucket, Key="k")


def test_dynamodb_switch_throttles_exactly_the_next_n_puts(moto):
    table = f"t-{uuid.uuid4().hex[:8]}"
    moto.dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                               KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                               AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    moto.settings(dynamodb_put_throttle={"id": uuid.uuid4().hex, "count": 1})
    try:
        with pytest.raises(ClientError) as throttled:
            moto.dynamodb.put_item(TableName=table, Item={"k": {"S": "a"}})
        moto.dynamodb.put_item(TableName=table, Item={"k": {"S": "a"}})
    finally:
        moto.settings()
    assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert moto.dynamodb.get_item(TableName=table, Key={"k": {"S": "a"}})["Item"] == {"k": {"S": "a"}}


def _machine(moto, definition: dict, kind: str = "EXPRESS") -> str:
    return moto.stepfunctions.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=moto.role(), type=kind,
    )["stateMachineArn"]


def test_start_sync_execution_answers_with_the_executions_end(moto):
    # Locally the call keeps the server's host (on AWS it goes to sync-states.<region>.amazonaws.com).
    sync = boto3.client("stepfunctions", endpoint_url=moto.endpoint_url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=NO_RETRIES.merge(Config(inject_host_prefix=False)))
    passing = _machine(moto, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ran": True}, "End": True}}})
    reply = sync.start_sync_execution(stateMachineArn=passing, name="run-1", input=json.dumps({"a": 1}))
    assert (reply["status"], json.loads(reply["output"]), reply["input"]) == ("SUCCEEDED", {"ran": True}, '{"a": 1}')
    assert sync.describe_execution(executionArn=reply["executionArn"])["status"] == "SUCCEEDED"
    with pytest.raises(ClientError, match="InvalidName"):  # a name is used once
        sync.start_sync_execution(stateMachineArn=passing, name="run-1", input="{}")

    failing = _machine(moto, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "SegmentFailed", "Cause": "why"}}})
    reply = sync.start_sync_execution(stateMachineArn=failing, input="{}")
    assert (reply["status"], reply["error"], reply["cause"]) == ("FAILED", "SegmentFailed", "why")
    assert "output" not in reply

    standard = _machine(moto, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, kind="STANDARD")
    with pytest.raises(ClientError, match="StateMachineTypeNotSupported"):
        sync.start_sync_execution(stateMachineArn=standard, input="{}")
    with pytest.raises(ClientError, match="InvalidExecutionInput"):
        sync.start_sync_execution(stateMachineArn=passing, input="{not json")


#: A function for an SQS event source: notes when it ran each message, fails those whose body asks.
POLLED_SOURCE = """import json, os, time
def handler(event, context):
    failures = []
    for record in event["Records"]:
        start = time.time()
        time.sleep(0.5)
        with open(os.environ["NOTES"], "a") as notes:
            notes.write(json.dumps({"body": record["body"], "start": start, "end": time.time(),
                                    "count": int(record["attributes"]["ApproximateReceiveCount"])}) + "\\n")
        if record["body"] == "fail-once" and record["attributes"]["ApproximateReceiveCount"] == "1":
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


def _notes(path: str, wanted: int, timeout_s: float = 60) -> list[dict]:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                notes = [json.loads(line) for line in handle if line.strip()]
            if len(notes) >= wanted:
                return notes
        time.sleep(0.2)
    raise TimeoutError(f"fewer than {wanted} invocations noted in {path}")


def test_sqs_event_source_polls_at_most_maximum_concurrency_and_keeps_reported_failures(moto, tmp_path):
    lam = boto3.client("lambda", endpoint_url=moto.endpoint_url, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=NO_RETRIES)
    notes = str(tmp_path / "notes.jsonl")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("polled.py", POLLED_SOURCE)
    name = f"fn-{uuid.uuid4().hex[:8]}"
    function_arn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=moto.role(),
                                       Handler="polled.handler", Code={"ZipFile": buffer.getvalue()},
                                       Environment={"Variables": {"NOTES": notes}}, Timeout=30)["FunctionArn"]
    queue_url = moto.sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "3"})[
        "QueueUrl"]
    queue_arn = moto.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bodies = ["fail-once"] + [f"m{n}" for n in range(7)]
    for body in bodies:  # queued before the mapping exists: a backlog, as a burst leaves it
        moto.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function_arn, BatchSize=1,
        ScalingConfig={"MaximumConcurrency": 2}, FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        noted = _notes(notes, len(bodies) + 1)  # every message, and the failed one once more
        deadline = time.time() + 30
        while time.time() < deadline and _in_queue(moto, queue_url):  # the last deletions follow the last answers
            time.sleep(0.2)
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    # Never more than MaximumConcurrency invocations at once.
    edges = sorted([(n["start"], 1) for n in noted] + [(n["end"], -1) for n in noted])
    running, most = 0, 0
    for _, step in edges:
        running += step
        most = max(most, running)
    assert most == 2
    # The reported failure came back (with SQS's own receive count); the others were deleted after one run.
    assert sorted(n["count"] for n in noted if n["body"] == "fail-once") == [1, 2]
    assert sorted(n["body"] for n in noted if n["body"] != "fail-once") == sorted(bodies[1:])
    assert _in_queue(moto, queue_url) == 0


def _in_queue(moto, queue_url: str) -> int:
    attributes = moto.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
