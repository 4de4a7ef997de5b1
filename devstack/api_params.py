"""pulumi-aws resource inputs as the AWS API requests that create them, checked against botocore's API models.

``pulumi up`` sends a resource's inputs to the provider, which turns them into
API calls; the mocks used here accept anything. This module does the provider's
part for the resource types the program declares: :func:`api_calls` maps one
resource's resolved inputs (camelCase, as ``pulumi.runtime.Mocks`` receive them)
to the API requests that would create it, with members named as in botocore's
model (``botocore/data/<service>/<date>/service-2.json``), and
:func:`model_violations` checks a request against that model: required members,
unknown members, types, enum values, numeric ranges, lengths (strings, lists,
maps) and patterns.

Two users: the contract tests (``tests/unit/test_aws_models.py``) check every
resource of the ``dev`` and ``prod`` stacks, and the local stack
(``devstack.deploy``) sends the same requests to moto through boto3, so
botocore's own parameter validation sees them too.

Name matching: pulumi-aws input names are the API member names in camelCase,
except where listed in :data:`RENAMES` (``inputResolution`` is the API's
``Resolution``); members are matched case- and underscore-insensitively
(``sseAlgorithm`` is ``SSEAlgorithm``). Terraform-style blocks given as a
one-element list become the API's structure. An input no rule maps is reported,
not dropped: inputs that only steer the provider are listed per type in the
builders below (``forceDestroy``, ``startChannel``, ...).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import botocore.session


@dataclass(frozen=True)
class ApiCall:
    """One API request: ``service`` as botocore names it, ``operation`` as the model names it."""

    service: str
    operation: str
    params: dict[str, Any]
    #: "create", or "delete" for a request the provider sends only when the resource is destroyed.
    when: str = "create"


class UnmappedInput(ValueError):
    """A pulumi input no API member corresponds to."""


#: (service, pulumi input name at any depth) -> API member name, where camelCase does not match.
RENAMES: dict[tuple[str, str], str] = {
    ("medialive", "inputResolution"): "Resolution",
}

#: A placeholder for content the provider reads from a file (archives, assets): checked for presence only.
FILE_CONTENT = b"<file content>"


@lru_cache(maxsize=None)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@lru_cache(maxsize=None)
def service_model(service: str):
    return _session().get_service_model(service)


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def to_api(service: str, value: Any, shape, path: str = "") -> Any:
    """Convert a pulumi input value to the API's form for ``shape`` (names, one-element blocks, numbers)."""
    kind = shape.type_name
    if kind == "structure":
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]  # a Terraform-style block
        if not isinstance(value, dict):
            return value  # the validator reports the type
        members = {_norm(name): name for name in shape.members}
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            target = RENAMES.get((service, key)) or members.get(_norm(key))
            if target is None or target not in shape.members:
                raise UnmappedInput(f"{path or shape.name}.{key}: no member of {shape.name} matches")
            converted[target] = to_api(service, item, shape.members[target], f"{path}.{target}" if path else target)
        return converted
    if kind == "list":
        if not isinstance(value, list):
            return value
        return [to_api(service, item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            return value
        return {key: to_api(service, item, shape.value, f"{path}.{key}") for key, item in value.items()}
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def request(service: str, operation: str, params: dict[str, Any], when: str = "create") -> ApiCall:
    """An :class:`ApiCall` with ``params`` converted to the operation's input shape."""
    shape = service_model(service).operation_model(operation).input_shape
    return ApiCall(service, operation, to_api(service, params, shape), when)


# --- validation against the model -----------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "boolean": (bool,),
    "blob": (bytes, bytearray, str),
    "timestamp": (str, int, float),
}


@lru_cache(maxsize=None)
def _pattern(pattern: str) -> re.Pattern | None:
    """A Python regex for a model pattern, or None where the model's (Java) syntax has no Python equivalent."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


@dataclass
class Checked:
    """What a validation looked at (so a test can show its checks were not vacuous)."""

    members: int = 0
    enums: int = 0
    ranges: int = 0
    lengths: int = 0
    patterns: int = 0
    patterns_skipped: int = 0


#: SQS queue attributes are a string map in the API model, so their ranges are not in it: these are
#: from the SQS API reference, SetQueueAttributes ("Attributes"), and the redrive policy's
#: ``maxReceiveCount`` from the SQS developer guide's dead-letter queue page.
SQS_ATTRIBUTE_RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 262144),
    "MessageRetentionPeriod": (60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43200),
}
SQS_MAX_RECEIVE_COUNT_RANGE = (1, 1000)


def model_violations(call: ApiCall, checked: Checked | None = None) -> list[str]:
    """Every way ``call.params`` breaks its operation's input shape in botocore's model."""
    checked = checked if checked is not None else Checked()
    shape = service_model(call.service).operation_model(call.operation).input_shape
    problems: list[str] = []
    path = f"{call.service}.{call.operation}"
    _check(call.params, shape, path, problems, checked)
    if call.service == "sqs" and isinstance(call.params.get("Attributes"), dict):
        problems += _sqs_attribute_violations(call.params["Attributes"], f"{path}.Attributes", checked)
    return problems


def _sqs_attribute_violations(attributes: dict[str, Any], path: str, checked: Checked) -> list[str]:
    problems = []

    def within(name: str, raw: Any, bounds: tuple[int, int]) -> None:
        checked.ranges += 1
        try:
            value = int(raw)
        except (TypeError, ValueError):
            problems.append(f"{path}.{name}: {raw!r} is not a whole number")
            return
        if not bounds[0] <= value <= bounds[1]:
            problems.append(f"{path}.{name}: value {value} is outside {bounds[0]}..{bounds[1]}")

    for name, bounds in SQS_ATTRIBUTE_RANGES.items():
        if name in attributes:
            within(name, attributes[name], bounds)
    if "RedrivePolicy" in attributes:
        try:
            policy = json.loads(attributes["RedrivePolicy"])
        except ValueError:
            return problems + [f"{path}.RedrivePolicy: not JSON"]
        if not str(policy.get("deadLetterTargetArn", "")).startswith("arn:"):
            problems.append(f"{path}.RedrivePolicy: deadLetterTargetArn must be a queue ARN")
        within("RedrivePolicy.maxReceiveCount", policy.get("maxReceiveCount"), SQS_MAX_RECEIVE_COUNT_RANGE)
    return problems


def _length_of(value: Any) -> int | None:
    if isinstance(value, (str, list, dict, bytes, bytearray)):
        return len(value)
    return None


def _check(value: Any, shape, path: str, problems: list[str], checked: Checked) -> None:
    kind = shape.type_name
    checked.members += 1
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a structure, got {type(value).__name__}")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}: required member {name} is missing")
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{path}: unknown member {name}")
                continue
            _check(item, shape.members[name], f"{path}.{name}", problems, checked)
        return
    if kind in ("list", "map"):
        if not isinstance(value, list if kind == "list" else dict):
            problems.append(f"{path}: expected a {kind}, got {type(value).__name__}")
            return
        _bounds(len(value), shape, path, "length", problems, checked)
        if kind == "list":
            members = [(item, shape.member, f"{path}[{index}]") for index, item in enumerate(value)]
        else:
            members = [m for key, item in value.items()
                       for m in ((key, shape.key, f"{path}<key {key}>"), (item, shape.value, f"{path}.{key}"))]
        for item, member_shape, member_path in members:
            _check(item, member_shape, member_path, problems, checked)
        return
    expected = _TYPES.get(kind)
    if expected and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        problems.append(f"{path}: expected {kind}, got {type(value).__name__} {value!r}")
        return
    if kind == "string":
        if shape.enum:
            checked.enums += 1
            if value not in shape.enum:
                problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        _bounds(len(value), shape, path, "length", problems, checked)
        pattern = shape.metadata.get("pattern")
        if pattern:
            compiled = _pattern(pattern)
            if compiled is None:
                checked.patterns_skipped += 1
            else:
                checked.patterns += 1
                if not compiled.fullmatch(value):
                    problems.append(f"{path}: {value!r} does not match the pattern {pattern}")
    elif kind in ("integer", "long", "double", "float"):
        _bounds(value, shape, path, "value", problems, checked)
    elif kind == "blob":
        _bounds(len(value), shape, path, "length", problems, checked)


def _bounds(measure: float, shape, path: str, what: str, problems: list[str], checked: Checked) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is None and high is None:
        return
    if what == "value":
        checked.ranges += 1
    else:
        checked.lengths += 1
    if low is not None and measure < low:
        problems.append(f"{path}: {what} {measure} is below the minimum {low}")
    if high is not None and measure > high:
        problems.append(f"{path}: {what} {measure} is above the maximum {high}")


# --- pulumi-aws resource types -> API requests ----------------------------------------------------


def _without(inputs: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k not in names}


def _name(inputs: dict[str, Any], outputs: dict[str, Any], key: str = "name") -> str:
    """The physical name: given, or the auto-name the engine chose (in the resource's outputs)."""
    return inputs.get(key) or outputs.get(key)


def _bucket(i, o):
    return [request("s3", "CreateBucket", {"Bucket": i["bucket"], **_without(i, "bucket", "forceDestroy")})]


def _public_access_block(i, o):
    return [request("s3", "PutPublicAccessBlock", {"Bucket": i["bucket"], "PublicAccessBlockConfiguration": _without(i, "bucket")})]


def _encryption(i, o):
    return [request("s3", "PutBucketEncryption", {"Bucket": i["bucket"], "ServerSideEncryptionConfiguration": {"Rules": i["rules"]}})]


def _ownership(i, o):
    return [request("s3", "PutBucketOwnershipControls", {"Bucket": i["bucket"], "OwnershipControls": {"Rules": [i["rule"]]}})]


def _bucket_policy(i, o):
    return [request("s3", "PutBucketPolicy", {"Bucket": i["bucket"], "Policy": i["policy"]})]


def _lifecycle(i, o):
    return [request("s3", "PutBucketLifecycleConfiguration", {"Bucket": i["bucket"], "LifecycleConfiguration": {"Rules": i["rules"]}})]


def _notification(i, o):
    config = {"EventBridgeConfiguration": {}} if i.get("eventbridge") else {}
    return [request("s3", "PutBucketNotificationConfiguration", {"Bucket": i["bucket"], "NotificationConfiguration": config})]


def _object(i, o):
    # source: the file the provider uploads as the body.
    return [request("s3", "PutObject", {**_without(i, "source"), "Body": FILE_CONTENT})]


#: pulumi-aws's Queue inputs -> SQS queue attributes (numbers as text, as the API takes them).
QUEUE_ATTRIBUTES = {
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "redrivePolicy": "RedrivePolicy",
}


def queue_attributes(i: dict[str, Any]) -> dict[str, str]:
    """The ``Attributes`` of CreateQueue for a Queue's inputs."""
    attributes = {}
    for name, attribute in QUEUE_ATTRIBUTES.items():
        if name not in i:
            continue
        value = i[name]
        if isinstance(value, bool):
            attributes[attribute] = str(value).lower()
        elif isinstance(value, (int, float)):
            attributes[attribute] = str(int(value))
        else:
            attributes[attribute] = str(value)
    return attributes


def _queue(i, o):
    unmapped = set(i) - {"name", *QUEUE_ATTRIBUTES}
    if unmapped:
        raise UnmappedInput(f"aws:sqs/queue:Queue: {sorted(unmapped)}")
    return [request("sqs", "CreateQueue", {"QueueName": _name(i, o), "Attributes": queue_attributes(i)})]


def _event_source_mapping(i, o):
    return [request("lambda", "CreateEventSourceMapping", dict(i))]


def _queue_policy(i, o):
    return [request("sqs", "SetQueueAttributes", {"QueueUrl": i["queueUrl"], "Attributes": {"Policy": i["policy"]}})]


def _table(i, o):
    name = _name(i, o)
    calls = [
        request(
            "dynamodb",
            "CreateTable",
            {
                "TableName": name,
                "BillingMode": i["billingMode"],
                "KeySchema": [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
                + ([{"AttributeName": i["rangeKey"], "KeyType": "RANGE"}] if i.get("rangeKey") else []),
                "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]} for a in i["attributes"]],
                "SSESpecification": i.get("serverSideEncryption", {}),
                **(
                    {"GlobalSecondaryIndexes": [
                        {
                            "IndexName": index["name"],
                            "KeySchema": [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
                            + ([{"AttributeName": index["rangeKey"], "KeyType": "RANGE"}] if index.get("rangeKey") else []),
                            "Projection": {"ProjectionType": index.get("projectionType", "ALL")},
                        }
                        for index in i["globalSecondaryIndexes"]
                    ]}
                    if i.get("globalSecondaryIndexes") else {}
                ),
            },
        )
    ]
    if i.get("ttl"):
        calls.append(request("dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": i["ttl"]}))
    if i.get("pointInTimeRecovery"):
        calls.append(
            request(
                "dynamodb",
                "UpdateContinuousBackups",
                {"TableName": name, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": i["pointInTimeRecovery"]["enabled"]}},
            )
        )
    unmapped = set(i) - {"name", "billingMode", "hashKey", "rangeKey", "attributes", "serverSideEncryption", "ttl",
                         "pointInTimeRecovery", "globalSecondaryIndexes"}
    if unmapped:
        raise UnmappedInput(f"aws:dynamodb/table:Table: {sorted(unmapped)}")
    return calls


def _role(i, o):
    return [request("iam", "CreateRole", {"RoleName": _name(i, o), "AssumeRolePolicyDocument": i["assumeRolePolicy"], **_without(i, "name", "assumeRolePolicy")})]


def _role_policy(i, o):
    return [request("iam", "PutRolePolicy", {"RoleName": i["role"], "PolicyName": _name(i, o), "PolicyDocument": i["policy"]})]


def _log_group(i, o):
    name = _name(i, o)
    calls = [request("logs", "CreateLogGroup", {"logGroupName": name})]
    if i.get("retentionInDays"):
        calls.append(request("logs", "PutRetentionPolicy", {"logGroupName": name, "retentionInDays": i["retentionInDays"]}))
    return calls


def _function(i, o):
    # code: the archive the provider uploads as the zip file.
    params = {"FunctionName": _name(i, o), **_without(i, "name", "code"), "Code": {"ZipFile": FILE_CONTENT}}
    return [request("lambda", "CreateFunction", params)]


def _state_machine(i, o):
    logging_ = dict(i.get("loggingConfiguration") or {})
    if "logDestination" in logging_:
        logging_["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": logging_.pop("logDestination")}}]
    params = {**_without(i, "loggingConfiguration"), "name": _name(i, o), "loggingConfiguration": logging_}
    return [request("stepfunctions", "CreateStateMachine", params)]


def _event_bus(i, o):
    return [request("events", "CreateEventBus", {"Name": _name(i, o)})]


def _rule(i, o):
    return [request("events", "PutRule", {**_without(i, "name"), "Name": _name(i, o)})]


def _target(i, o):
    target = _without(i, "rule", "eventBusName", "targetId", "inputTransformer")
    if i.get("inputTransformer"):
        transformer = i["inputTransformer"]
        target["InputTransformer"] = {"InputPathsMap": transformer.get("inputPaths", {}), "InputTemplate": transformer["inputTemplate"]}
    target["Id"] = i.get("targetId") or o.get("targetId") or "target"
    params = {"Rule": i["rule"], "Targets": [target]}
    if i.get("eventBusName"):
        params["EventBusName"] = i["eventBusName"]
    return [request("events", "PutTargets", params)]


def _model(i, o):
    return [request("sagemaker", "CreateModel", {**_without(i, "name"), "ModelName": _name(i, o)})]


def _endpoint_config(i, o):
    return [request("sagemaker", "CreateEndpointConfig", {**_without(i, "name"), "EndpointConfigName": _name(i, o)})]


def _endpoint(i, o):
    return [request("sagemaker", "CreateEndpoint", {**_without(i, "name"), "EndpointName": _name(i, o)})]


def _scalable_target(i, o):
    return [request("application-autoscaling", "RegisterScalableTarget", dict(i))]


def _scaling_policy(i, o):
    return [request("application-autoscaling", "PutScalingPolicy", {**_without(i, "name"), "PolicyName": _name(i, o)})]


def _alarm(i, o):
    params = {**_without(i, "name", "dimensions"), "AlarmName": _name(i, o)}
    if i.get("dimensions"):
        params["Dimensions"] = [{"Name": k, "Value": v} for k, v in i["dimensions"].items()]
    return [request("cloudwatch", "PutMetricAlarm", params)]


def _dashboard(i, o):
    return [request("cloudwatch", "PutDashboard", dict(i))]


def _topic(i, o):
    attributes = {}
    if i.get("kmsMasterKeyId"):
        attributes["KmsMasterKeyId"] = i["kmsMasterKeyId"]
    unmapped = set(i) - {"name", "kmsMasterKeyId"}
    if unmapped:
        raise UnmappedInput(f"aws:sns/topic:Topic: {sorted(unmapped)}")
    return [request("sns", "CreateTopic", {"Name": _name(i, o), "Attributes": attributes})]


def _subscription(i, o):
    return [request("sns", "Subscribe", {"TopicArn": i["topic"], **_without(i, "topic")})]


def _topic_policy(i, o):
    return [request("sns", "SetTopicAttributes", {"TopicArn": i["arn"], "AttributeName": "Policy", "AttributeValue": i["policy"]})]


def _key(i, o):
    calls = [request("kms", "CreateKey", _without(i, "enableKeyRotation", "deletionWindowInDays"))]
    key_id = o.get("keyId") or o.get("id") or "key-id"
    if i.get("enableKeyRotation"):
        calls.append(request("kms", "EnableKeyRotation", {"KeyId": key_id}))
    if i.get("deletionWindowInDays") is not None:
        # Used when the key is destroyed: ScheduleKeyDeletion's PendingWindowInDays.
        calls.append(
            request("kms", "ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": i["deletionWindowInDays"]}, when="delete")
        )
    return calls


def _medialive_input(i, o):
    return [request("medialive", "CreateInput", {**_without(i, "name"), "Name": _name(i, o)})]


def _layer_version(i, o):
    content = {"S3Bucket": i["s3Bucket"], "S3Key": i["s3Key"]}
    if i.get("s3ObjectVersion"):
        content["S3ObjectVersion"] = i["s3ObjectVersion"]
    params = {**_without(i, "layerName", "s3Bucket", "s3Key", "s3ObjectVersion"), "LayerName": i["layerName"], "Content": content}
    return [request("lambda", "PublishLayerVersion", params)]


def _schedule(i, o):
    return [request("scheduler", "CreateSchedule", {**_without(i, "name"), "Name": _name(i, o)})]


def _medialive_channel(i, o):
    # startChannel: the provider's switch to start the channel after creating it (StartChannel).
    return [request("medialive", "CreateChannel", {**_without(i, "name", "startChannel"), "Name": _name(i, o)})]


BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[ApiCall]]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access_block,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _encryption,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle,
    "aws:s3/bucketNotification:BucketNotification": _notification,
    "aws:s3/bucketObjectv2:BucketObjectv2": _object,
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
    "aws:dynamodb/table:Table": _table,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/function:Function": _function,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:cloudwatch/eventBus:EventBus": _event_bus,
    "aws:cloudwatch/eventRule:EventRule": _rule,
    "aws:cloudwatch/eventTarget:EventTarget": _target,
    "aws:sagemaker/model:Model": _model,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config,
    "aws:sagemaker/endpoint:Endpoint": _endpoint,
    "aws:appautoscaling/target:Target": _scalable_target,
    "aws:appautoscaling/policy:Policy": _scaling_policy,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:kms/key:Key": _key,
    "aws:medialive/input:Input": _medialive_input,
    "aws:medialive/channel:Channel": _medialive_channel,
    "aws:lambda/layerVersion:LayerVersion": _layer_version,
    "aws:scheduler/schedule:Schedule": _schedule,
}


def api_calls(typ: str, inputs: dict[str, Any], outputs: dict[str, Any] | None = None) -> list[ApiCall]:
    """The API requests that create a resource of type ``typ`` with these (resolved) inputs."""
    if typ not in BUILDERS:
        raise KeyError(f"no API mapping for {typ}; add one to devstack.api_params.BUILDERS")
    return BUILDERS[typ](dict(inputs), dict(outputs or {}))


def json_members(call: ApiCall) -> dict[str, Any]:
    """Members of a request that carry JSON documents (policies, patterns, definitions), parsed."""
    documents = {}
    for name, value in call.params.items():
        if isinstance(value, str) and value[:1] in "{[":
            try:
                documents[name] = json.loads(value)
            except ValueError:
                pass
    return documents
