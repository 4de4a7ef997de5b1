"""Deploy the Pulumi program into moto: mocks that create each resource through boto3.

The program (``__main__.py``) runs unchanged under :class:`MotoMocks`; each
resource it declares is created in the local AWS with the inputs it was given,
and the mocks hand back the real identifiers (ARNs, queue URLs), so the wiring
``pulumi up`` would deploy is the wiring that runs here.

MediaLive input and channel, Application Auto Scaling target and policy,
CloudWatch alarms and dashboard, SNS topics, subscriptions and policies, and KMS
keys have no local behaviour, but they are created in moto all the same, with
the very requests ``devstack.api_params`` derives from their inputs (the ones
the contract tests check against botocore's models), so botocore's client-side
validation and moto see them (:data:`CREATED_FROM_API_PARAMS`). The Lambda's
Powertools layer is not attached (moto has no public layers); the local Python
environment provides Powertools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
import pulumi
from moto.core import DEFAULT_ACCOUNT_ID

from devstack import api_params
from infra.program_runner import run_program
from infra.settings import ROOT

#: The account moto answers for (its default): ARNs of resources moto does not create carry it too.
ACCOUNT = DEFAULT_ACCOUNT_ID

#: Created in moto with the requests devstack.api_params derives from the inputs (no local behaviour).
CREATED_FROM_API_PARAMS = {
    "aws:medialive/input:Input",
    "aws:medialive/channel:Channel",
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:sns/topic:Topic",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:kms/key:Key",
    # The sweep's schedule is created (moto does not run it): the local stack runs a timer instead (devstack.stack).
    "aws:scheduler/schedule:Schedule",
}


def _int(value: Any) -> int:
    return int(float(value))


def _pascal(value: Any) -> Any:
    """camelCase keys (as mocks receive inputs) to PascalCase (as boto3 wants), recursively."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Deployed:
    typ: str
    name: str
    physical_id: str
    outputs: dict[str, Any]
    created: bool


@dataclass
class MotoMocks(pulumi.runtime.Mocks):
    endpoint_url: str
    region: str = "us-east-1"
    deployed: list[Deployed] = field(default_factory=list)

    def __post_init__(self):
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region)
        self._clients: dict[str, Any] = {}
        self._session = session
        self._handlers: dict[str, Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": self._public_access_block,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": self._encryption,
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls": self._ownership,
            "aws:s3/bucketPolicy:BucketPolicy": self._bucket_policy,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": self._lifecycle,
            "aws:s3/bucketNotification:BucketNotification": self._notification,
            "aws:s3/bucketObjectv2:BucketObjectv2": self._object,
            "aws:sqs/queue:Queue": self._queue,
            "aws:sqs/queuePolicy:QueuePolicy": self._queue_policy,
            "aws:dynamodb/table:Table": self._table,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:lambda/function:Function": self._function,
            "aws:sfn/stateMachine:StateMachine": self._state_machine,
            "aws:cloudwatch/eventBus:EventBus": self._event_bus,
            "aws:cloudwatch/eventRule:EventRule": self._rule,
            "aws:cloudwatch/eventTarget:EventTarget": self._target,
            "aws:sagemaker/model:Model": self._model,
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration": self._endpoint_config,
            "aws:sagemaker/endpoint:Endpoint": self._endpoint,
            "aws:lambda/layerVersion:LayerVersion": self._layer,
            "aws:lambda/eventSourceMapping:EventSourceMapping": self._event_source_mapping,
        }

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    # --- pulumi.runtime.Mocks ---------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        handler = self._handlers.get(args.typ)
        if handler is None and args.typ in CREATED_FROM_API_PARAMS:
            handler = lambda name, inputs: self._from_api_params(args.typ, name, inputs)  # noqa: E731
        if args.typ.startswith("activity-detection:"):
            physical, outputs = args.name, {}
        elif handler is None:
            raise NotImplementedError(f"the local stack cannot create {args.typ}; add it to devstack.deploy")
        else:
            physical, outputs = handler(args.name, inputs)
        self.deployed.append(Deployed(args.typ, args.name, physical, outputs, handler is not None))
        return [physical, {**inputs, **outputs}]

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = self.client("sts").get_caller_identity()
            return {"accountId": identity["Account"], "arn": identity["Arn"], "userId": identity["UserId"], "id": identity["Account"]}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
        if args.token == "aws:ssm/getParameter:getParameter":
            # Powertools' public layer parameter: moto has no public parameters, and the layer is not
            # attached here (the local Python environment provides Powertools).
            name = args.args["name"]
            value = f"arn:aws:lambda:{self.region}:017000801446:layer:not-attached-locally:0"
            return {"name": name, "value": value, "insecureValue": value, "type": "String", "id": name}
        raise NotImplementedError(f"the local stack has no answer for the call {args.token}")

    # --- handlers: (logical name, camelCase inputs) -> (physical id, outputs) ---------------------

    def _from_api_params(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create the resource with the API requests api_params derives; read back its identifiers."""
        # Auto-named resources get a stable local name (Pulumi would add a random suffix).
        outputs: dict[str, Any] = {"name": inputs.get("name") or f"{name}-local"}
        calls = [c for c in api_params.api_calls(typ, inputs, outputs) if c.when == "create"]
        replies = []
        for call in calls:
            if typ == "aws:kms/key:Key" and call.operation == "EnableKeyRotation":
                call = api_params.ApiCall(call.service, call.operation, {"KeyId": outputs["keyId"]})
            client = self.client(call.service)
            method = getattr(client, _snake(call.operation))
            reply = method(**call.params)
            replies.append(reply)
            if typ == "aws:kms/key:Key" and call.operation == "CreateKey":
                outputs.update(keyId=reply["KeyMetadata"]["KeyId"], arn=reply["KeyMetadata"]["Arn"])
        first = replies[0] if replies else {}
        if typ == "aws:kms/key:Key":
            return outputs["keyId"], outputs
        if typ == "aws:sns/topic:Topic":
            return first["TopicArn"], {**outputs, "arn": first["TopicArn"]}
        if typ == "aws:sns/topicSubscription:TopicSubscription":
            return first["SubscriptionArn"], {"arn": first["SubscriptionArn"]}
        if typ == "aws:medialive/input:Input":
            return first["Input"]["Id"], {**outputs, "arn": first["Input"]["Arn"], "inputId": first["Input"]["Id"]}
        if typ == "aws:medialive/channel:Channel":
            channel = first["Channel"]
            return channel["Id"], {**outputs, "arn": channel["Arn"], "channelId": channel["Id"]}
        if typ == "aws:appautoscaling/policy:Policy":
            return outputs["name"], {**outputs, "arn": first["PolicyARN"]}
        if typ == "aws:appautoscaling/target:Target":
            return inputs["resourceId"], {"arn": first.get("ScalableTargetARN", "")}
        if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            alarm = self.client("cloudwatch").describe_alarms(AlarmNames=[outputs["name"]])["MetricAlarms"][0]
            return outputs["name"], {**outputs, "arn": alarm["AlarmArn"]}
        if typ == "aws:cloudwatch/dashboard:Dashboard":
            return inputs["dashboardName"], {"dashboardName": inputs["dashboardName"]}
        return f"{name}-local", outputs

    def _bucket(self, name, inputs):
        bucket = inputs["bucket"]
        self.client("s3").create_bucket(Bucket=bucket)
        return bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}

    def _public_access_block(self, name, inputs):
        config = {k[:1].upper() + k[1:]: v for k, v in inputs.items() if k != "bucket"}
        self.client("s3").put_public_access_block(Bucket=inputs["bucket"], PublicAccessBlockConfiguration=config)
        return inputs["bucket"], {}

    def _encryption(self, name, inputs):
        rules = _pascal(inputs["rules"])
        for rule in rules:
            rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] = rule["ApplyServerSideEncryptionByDefault"].pop("SseAlgorithm")
        self.client("s3").put_bucket_encryption(Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})
        return inputs["bucket"], {}

    def _ownership(self, name, inputs):
        self.client("s3").put_bucket_ownership_controls(
            Bucket=inputs["bucket"], OwnershipControls={"Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]}
        )
        return inputs["bucket"], {}

    def _bucket_policy(self, name, inputs):
        self.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
        return inputs["bucket"], {}

    def _lifecycle(self, name, inputs):
        rules = []
        for rule in inputs["rules"]:
            rules.append(
                {
                    "ID": rule["id"],
                    "Status": rule["status"],
                    "Filter": {"Prefix": rule["filter"]["prefix"]},
                    "Expiration": {"Days": _int(rule["expiration"]["days"])},
                    "AbortIncompleteMultipartUpload": {
                        "DaysAfterInitiation": _int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
                    },
                }
            )
        self.client("s3").put_bucket_lifecycle_configuration(Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules})
        return inputs["bucket"], {}

    def _notification(self, name, inputs):
        configuration = {"EventBridgeConfiguration": {}} if inputs.get("eventbridge") else {}
        self.client("s3").put_bucket_notification_configuration(
            Bucket=inputs["bucket"], NotificationConfiguration=configuration
        )
        return inputs["bucket"], {}

    def _object(self, name, inputs):
        source = inputs["source"]
        if os.path.isdir(getattr(source, "path", "")):  # a folder Pulumi zips on upload: the ffmpeg layer, AWS only
            return inputs["key"], {"etag": "recorded-only", "versionId": ""}
        extra = {"ContentType": inputs["contentType"]} if inputs.get("contentType") else {}
        with open(source.path, "rb") as handle:
            reply = self.client("s3").put_object(Bucket=inputs["bucket"], Key=inputs["key"], Body=handle, **extra)
        return inputs["key"], {"etag": reply["ETag"].strip('"'), "versionId": reply.get("VersionId", "")}

    def _queue(self, name, inputs):
        # The same attributes the contract tests check against botocore's model (retention, visibility, redrive).
        url = self.client("sqs").create_queue(QueueName=inputs["name"], Attributes=api_params.queue_attributes(inputs))["QueueUrl"]
        arn = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"url": url, "arn": arn, "name": inputs["name"]}

    def _queue_policy(self, name, inputs):
        self.client("sqs").set_queue_attributes(QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]})
        return inputs["queueUrl"], {}

    def _table(self, name, inputs):
        dynamodb = self.client("dynamodb")
        table = dynamodb.create_table(
            TableName=inputs["name"],
            BillingMode=inputs["billingMode"],
            KeySchema=[
                {"AttributeName": inputs["hashKey"], "KeyType": "HASH"},
                {"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]],
            SSESpecification={"Enabled": bool(inputs.get("serverSideEncryption", {}).get("enabled"))},
            **self._indexes(inputs),
        )["TableDescription"]
        if inputs.get("ttl", {}).get("enabled"):
            dynamodb.update_time_to_live(
                TableName=inputs["name"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": inputs["ttl"]["attributeName"]},
            )
        if inputs.get("pointInTimeRecovery", {}).get("enabled"):
            dynamodb.update_continuous_backups(
                TableName=inputs["name"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        return inputs["name"], {"arn": table["TableArn"], "name": inputs["name"]}

    @staticmethod
    def _indexes(inputs) -> dict[str, Any]:
        indexes = [
            {
                "IndexName": index["name"],
                "KeySchema": [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
                + ([{"AttributeName": index["rangeKey"], "KeyType": "RANGE"}] if index.get("rangeKey") else []),
                "Projection": {"ProjectionType": index.get("projectionType", "ALL")},
            }
            for index in inputs.get("globalSecondaryIndexes") or []
        ]
        return {"GlobalSecondaryIndexes": indexes} if indexes else {}

    def _role(self, name, inputs):
        role = self.client("iam").create_role(RoleName=inputs["name"], AssumeRolePolicyDocument=inputs["assumeRolePolicy"])["Role"]
        return inputs["name"], {"arn": role["Arn"], "name": inputs["name"]}

    def _role_policy(self, name, inputs):
        self.client("iam").put_role_policy(RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"])
        return f"{inputs['role']}:{name}", {}

    def _log_group(self, name, inputs):
        logs = self.client("logs")
        logs.create_log_group(logGroupName=inputs["name"])
        if inputs.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=inputs["name"], retentionInDays=_int(inputs["retentionInDays"]))
        arn = f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{inputs['name']}"
        return inputs["name"], {"arn": arn, "name": inputs["name"]}

    def _function(self, name, inputs):
        with open(inputs["code"].path, "rb") as handle:
            code = handle.read()
        function = self.client("lambda").create_function(
            FunctionName=inputs["name"],
            Runtime=inputs["runtime"],
            Role=inputs["role"],
            Handler=inputs["handler"],
            Code={"ZipFile": code},
            Timeout=_int(inputs.get("timeout", 3)),
            MemorySize=_int(inputs.get("memorySize", 128)),
            Environment={"Variables": inputs.get("environment", {}).get("variables", {})},
            TracingConfig={"Mode": inputs.get("tracingConfig", {}).get("mode", "PassThrough")},
        )
        return inputs["name"], {"arn": function["FunctionArn"], "name": inputs["name"]}

    def _event_source_mapping(self, name, inputs):
        # The very request the contract tests validate; the local stack's pollers honour its ScalingConfig.
        (call,) = api_params.BUILDERS["aws:lambda/eventSourceMapping:EventSourceMapping"](inputs, {})
        mapping = self.client("lambda").create_event_source_mapping(**call.params)
        return mapping["UUID"], {"uuid": mapping["UUID"], "arn": mapping["EventSourceMappingArn"],
                                 "functionArn": mapping["FunctionArn"]}

    def _state_machine(self, name, inputs):
        logging_config = inputs["loggingConfiguration"]
        machine = self.client("stepfunctions").create_state_machine(
            name=inputs["name"],
            definition=inputs["definition"],
            roleArn=inputs["roleArn"],
            type=inputs["type"],
            loggingConfiguration={
                "level": logging_config["level"],
                "includeExecutionData": logging_config["includeExecutionData"],
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": logging_config["logDestination"]}}],
            },
            tracingConfiguration={"enabled": inputs["tracingConfiguration"]["enabled"]},
        )
        return machine["stateMachineArn"], {"arn": machine["stateMachineArn"], "name": inputs["name"]}

    def _event_bus(self, name, inputs):
        arn = self.client("events").create_event_bus(Name=inputs["name"])["EventBusArn"]
        return inputs["name"], {"arn": arn, "name": inputs["name"]}

    def _rule(self, name, inputs):
        rule_name = inputs.get("name") or f"{name}-local"
        extra = {"EventBusName": inputs["eventBusName"]} if inputs.get("eventBusName") else {}
        arn = self.client("events").put_rule(
            Name=rule_name, EventPattern=inputs["eventPattern"], Description=inputs.get("description", ""), **extra
        )["RuleArn"]
        return rule_name, {"arn": arn, "name": rule_name}

    def _target(self, name, inputs):
        target: dict[str, Any] = {"Id": inputs.get("targetId") or name, "Arn": inputs["arn"]}
        if inputs.get("roleArn"):
            target["RoleArn"] = inputs["roleArn"]
        if inputs.get("retryPolicy"):
            target["RetryPolicy"] = _pascal(inputs["retryPolicy"])
        if inputs.get("deadLetterConfig"):
            target["DeadLetterConfig"] = _pascal(inputs["deadLetterConfig"])
        if inputs.get("inputTransformer"):
            transformer = inputs["inputTransformer"]
            target["InputTransformer"] = {"InputPathsMap": transformer.get("inputPaths", {}),
                                          "InputTemplate": transformer["inputTemplate"]}
        extra = {"EventBusName": inputs["eventBusName"]} if inputs.get("eventBusName") else {}
        self.client("events").put_targets(Rule=inputs["rule"], Targets=[target], **extra)
        return f"{inputs['rule']}-{target['Id']}", {"targetId": target["Id"]}

    def _model(self, name, inputs):
        model_name = inputs.get("name") or f"{name}-local"
        container = inputs["primaryContainer"]
        arn = self.client("sagemaker").create_model(
            ModelName=model_name,
            ExecutionRoleArn=inputs["executionRoleArn"],
            PrimaryContainer={
                "Image": container["image"],
                "ModelDataUrl": container["modelDataUrl"],
                "Environment": container.get("environment", {}),
            },
        )["ModelArn"]
        return model_name, {"arn": arn, "name": model_name}

    def _endpoint_config(self, name, inputs):
        config_name = inputs.get("name") or f"{name}-local"
        variants = [
            {
                "VariantName": v["variantName"],
                "ModelName": v["modelName"],
                "InstanceType": v["instanceType"],
                "InitialInstanceCount": _int(v["initialInstanceCount"]),
            }
            for v in inputs["productionVariants"]
        ]
        arn = self.client("sagemaker").create_endpoint_config(EndpointConfigName=config_name, ProductionVariants=variants)[
            "EndpointConfigArn"
        ]
        return config_name, {"arn": arn, "name": config_name}

    def _layer(self, name, inputs):
        """The ffmpeg layer's archive is a folder Pulumi zips on upload, on AWS only: here the function
        finds ffmpeg in the local Python environment (imageio-ffmpeg), and the layer is only named."""
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:layer:{inputs['layerName']}:1"
        return arn, {"arn": arn, "layerArn": arn.rsplit(":", 1)[0], "version": "1"}

    def _endpoint(self, name, inputs):
        arn = self.client("sagemaker").create_endpoint(
            EndpointName=inputs["name"], EndpointConfigName=inputs["endpointConfigName"]
        )["EndpointArn"]
        return inputs["name"], {"arn": arn, "name": inputs["name"]}


def _snake(operation: str) -> str:
    """boto3's method name for an API operation (``PutMetricAlarm`` -> ``put_metric_alarm``)."""
    import botocore

    return botocore.xform_name(operation)


def deploy(endpoint_url: str, stack: str = "local", overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], MotoMocks]:
    """Run the Pulumi program against the local AWS at ``endpoint_url``; returns (stack outputs, mocks)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    mocks = MotoMocks(endpoint_url=endpoint_url)
    video = os.path.join(ROOT, "videos", "bikes.mp4")
    # MediaLive is recorded only; it is declared when its source video is there, as on AWS.
    # The local endpoint's "instance" is this machine: one worker scoring with the cores it may use
    # (one copy of the model in memory, and the lowest latency at the low concurrency of a demo:
    # 1x2 answered in 0.48 s where 2x1 took 0.79 s, bench/results/serving.md). AWS's default
    # (endpointWorkers 0: one worker per vCPU) serves more segments/s once requests overlap.
    # The intake lets in what this machine runs at once: its one endpoint instance and every Lambda
    # instance share its cores (on AWS the bound derives from the fleet; see infra.intake).
    cores = len(os.sched_getaffinity(0))
    config = {"aws:region": mocks.region, "liveSourceEnabled": os.path.exists(video), "fastRetries": True,
              "endpointWorkers": 1, "endpointThreadsPerWorker": cores, "intakeMaxConcurrency": max(2, 2 * cores), **(overrides or {})}
    outputs = run_program(mocks, stack, config)
    return outputs, mocks


def summary(mocks: MotoMocks) -> dict[str, list[str]]:
    created = sorted({d.typ for d in mocks.deployed if d.created})
    recorded = sorted({d.typ for d in mocks.deployed if not d.created and not d.typ.startswith("activity-detection:")})
    return {"created": created, "recorded_only": recorded}

