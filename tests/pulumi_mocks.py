"""Recording mocks for the Pulumi program: every resource's type, name and resolved inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Declared:
    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def computed_outputs(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What AWS would fill in: ids, ARNs, URLs and auto-names."""
    outputs = dict(inputs)
    physical = inputs.get("name") or inputs.get("bucket") or f"{name}-{_suffix(name)}"
    service = typ.split(":")[1].split("/")[0]
    outputs.setdefault("name", physical)
    outputs["arn"] = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{typ.split(':')[-1].lower()}/{physical}"
    resource_id = physical
    if typ == "aws:s3/bucket:Bucket":
        outputs.update(bucket=physical, arn=f"arn:aws:s3:::{physical}")
    elif typ == "aws:sqs/queue:Queue":
        outputs.update(url=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}", arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical}")
        resource_id = outputs["url"]
    elif typ == "aws:iam/role:Role":
        outputs["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{physical}"
    elif typ == "aws:lambda/function:Function":
        outputs["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"
    elif typ == "aws:sfn/stateMachine:StateMachine":
        outputs["arn"] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{physical}"
    elif typ == "aws:dynamodb/table:Table":
        outputs["arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}"
    elif typ == "aws:cloudwatch/logGroup:LogGroup":
        outputs["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}"
    elif typ == "aws:medialive/channel:Channel":
        outputs["channelId"] = "1234567"
    elif typ == "aws:s3/bucketObjectv2:BucketObjectv2":
        outputs["etag"] = _suffix(str(inputs.get("source")))
    elif typ == "aws:cloudwatch/dashboard:Dashboard":
        outputs.setdefault("dashboardName", inputs.get("dashboardName"))
    return resource_id, outputs


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.declared: list[Declared] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource_id, outputs = computed_outputs(args.typ, args.name, args.inputs)
        self.declared.append(Declared(args.typ, args.name, dict(args.inputs), outputs))
        return [resource_id, outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "AIDTEST", "id": ACCOUNT}
        return {}

    def of_type(self, typ: str) -> list[Declared]:
        return [d for d in self.declared if d.typ == typ]

    def one(self, typ: str, name_contains: str = "") -> Declared:
        found = [d for d in self.of_type(typ) if name_contains in d.name]
        assert len(found) == 1, f"expected one {typ} named *{name_contains}*, got {[d.name for d in found]}"
        return found[0]
