"""Recording mocks for the Pulumi program: every resource's type, name and resolved inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi
from moto.core import DEFAULT_ACCOUNT_ID

ACCOUNT = DEFAULT_ACCOUNT_ID  # the same account the local stack (moto) answers for
REGION = "us-east-1"


@dataclass
class Declared:
    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def computed_outputs(typ: str, name: str, inputs: dict[str, Any], partition: str = "aws") -> tuple[str, dict[str, Any]]:
    """What AWS would fill in: ids, ARNs, URLs and auto-names."""
    outputs = dict(inputs)
    physical = inputs.get("name") or inputs.get("bucket") or f"{name}-{_suffix(name)}"
    service = typ.split(":")[1].split("/")[0]
    outputs.setdefault("name", physical)
    outputs["arn"] = f"arn:{partition}:{service}:{REGION}:{ACCOUNT}:{typ.split(':')[-1].lower()}/{physical}"
    resource_id = physical
    if typ == "aws:s3/bucket:Bucket":
        outputs.update(bucket=physical, arn=f"arn:{partition}:s3:::{physical}")
    elif typ == "aws:sqs/queue:Queue":
        outputs.update(url=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}", arn=f"arn:{partition}:sqs:{REGION}:{ACCOUNT}:{physical}")
        resource_id = outputs["url"]
    elif typ == "aws:iam/role:Role":
        outputs["arn"] = f"arn:{partition}:iam::{ACCOUNT}:role/{physical}"
    elif typ == "aws:lambda/layerVersion:LayerVersion":
        outputs["arn"] = f"arn:{partition}:lambda:{REGION}:{ACCOUNT}:layer:{inputs.get('layerName', physical)}:1"
    elif typ == "aws:lambda/function:Function":
        outputs["arn"] = f"arn:{partition}:lambda:{REGION}:{ACCOUNT}:function:{physical}"
    elif typ == "aws:sfn/stateMachine:StateMachine":
        outputs["arn"] = f"arn:{partition}:states:{REGION}:{ACCOUNT}:stateMachine:{physical}"
    elif typ == "aws:dynamodb/table:Table":
        outputs["arn"] = f"arn:{partition}:dynamodb:{REGION}:{ACCOUNT}:table/{physical}"
    elif typ == "aws:cloudwatch/logGroup:LogGroup":
        outputs["arn"] = f"arn:{partition}:logs:{REGION}:{ACCOUNT}:log-group:{physical}"
    elif typ == "aws:medialive/channel:Channel":
        outputs["channelId"] = "1234567"
    elif typ == "aws:s3/bucketObjectv2:BucketObjectv2":
        outputs["etag"] = _suffix(str(inputs.get("source")))
    elif typ == "aws:cloudwatch/dashboard:Dashboard":
        outputs.setdefault("dashboardName", inputs.get("dashboardName"))
    return resource_id, outputs


#: ``aws.get_partition()`` per partition, as the provider answers it.
PARTITIONS = {
    "aws": {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"},
    "aws-cn": {"partition": "aws-cn", "dnsSuffix": "amazonaws.com.cn", "reverseDnsPrefix": "cn.com.amazonaws", "id": "aws-cn"},
}
#: Stands for the layer version the public SSM parameter would name (any number: it is looked up on AWS).
POWERTOOLS_LAYER_VERSION = 99


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, partition: str = "aws"):
        self.declared: list[Declared] = []
        self.partition = partition
        self.parameters_read: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource_id, outputs = computed_outputs(args.typ, args.name, args.inputs, self.partition)
        self.declared.append(Declared(args.typ, args.name, dict(args.inputs), outputs))
        return [resource_id, outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "AIDTEST", "id": ACCOUNT}
        if args.token == "aws:index/getPartition:getPartition":
            return PARTITIONS[self.partition]
        if args.token == "aws:ssm/getParameter:getParameter":
            self.parameters_read.append(args.args["name"])
            runtime = args.args["name"].split("/")[-2].replace(".", "")
            value = f"arn:{self.partition}:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{runtime}-x86_64:{POWERTOOLS_LAYER_VERSION}"
            return {"name": args.args["name"], "value": value, "type": "String", "id": args.args["name"], "insecureValue": value}
        raise NotImplementedError(f"the recording mocks have no answer for {args.token}")

    def of_type(self, typ: str) -> list[Declared]:
        return [d for d in self.declared if d.typ == typ]

    def one(self, typ: str, name_contains: str = "") -> Declared:
        found = [d for d in self.of_type(typ) if name_contains in d.name]
        assert len(found) == 1, f"expected one {typ} named *{name_contains}*, got {[d.name for d in found]}"
        return found[0]
