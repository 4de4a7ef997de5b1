"""Model and endpoint: model.tar.gz, the SageMaker Model, endpoint configuration, endpoint, autoscaling.

The Model and EndpointConfiguration are auto-named by Pulumi. Changing the
model (a new ``model.tar.gz``) replaces both; Pulumi creates the replacements
first, then updates the endpoint to the new configuration (SageMaker switches
traffic without downtime), then deletes the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import policies

#: AWS Deep Learning Containers registry account per region; all others use 763104351884.
DLC_ACCOUNTS = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "me-south-1": "217643126080",
    "me-central-1": "914824155844",
    "il-central-1": "780543022126",
}
MXNET_INFERENCE_TAG = "mxnet-inference:1.9.0-cpu-py38"
VARIANT = "AllTraffic"


def default_inference_image(region: str) -> str:
    """AWS's MXNet 1.9 CPU inference image (Python 3.8) for ``region``."""
    account = DLC_ACCOUNTS.get(region, "763104351884")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{MXNET_INFERENCE_TAG}"


@dataclass
class ModelEndpointArgs:
    endpoint_name: str
    role_name: str
    model_archive_path: str
    artifacts_bucket: aws.s3.Bucket
    livestream_bucket: aws.s3.Bucket
    stream_prefix: str
    image_uri: str
    instance_type: str
    initial_instance_count: int
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: int
    account_id: pulumi.Input[str]
    region: str
    log_retention_days: int
    environment: dict[str, str] = field(default_factory=dict)


class ModelEndpoint(pulumi.ComponentResource):
    def __init__(self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:inference:ModelEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.model_archive = aws.s3.BucketObjectv2(
            f"{name}-model-archive",
            bucket=args.artifacts_bucket.id,
            key="model/model.tar.gz",
            source=pulumi.FileAsset(args.model_archive_path),
            opts=child,
        )
        repository = args.image_uri.split("/", 1)[1].split(":")[0] if "/" in args.image_uri else args.image_uri
        registry_account = args.image_uri.split(".", 1)[0]
        log_group_arn = pulumi.Output.concat(
            "arn:aws:logs:", args.region, ":", args.account_id, ":log-group:/aws/sagemaker/Endpoints/", args.endpoint_name
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/sagemaker/Endpoints/{args.endpoint_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role, _ = policies.service_role(
            f"{name}-role", args.role_name, "sagemaker.amazonaws.com", args.account_id, self,
            policies.document(
                policies.statement(
                    "ReadModelArchive", ["s3:GetObject"], [pulumi.Output.concat(args.artifacts_bucket.arn, "/model/*")]
                ),
                policies.statement(
                    "ReadSegments",
                    ["s3:GetObject"],
                    [pulumi.Output.concat(args.livestream_bucket.arn, "/", args.stream_prefix.strip("/"), "/*")],
                ),
                policies.statement("PullImageToken", ["ecr:GetAuthorizationToken"], ["*"]),
                policies.statement(
                    "PullImage",
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    [f"arn:aws:ecr:{args.region}:{registry_account}:repository/{repository}"],
                ),
                policies.statement(
                    "WriteLogs",
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [log_group_arn, pulumi.Output.concat(log_group_arn, ":log-stream:*")],
                ),
                policies.statement(
                    "PublishMetrics",
                    ["cloudwatch:PutMetricData"],
                    ["*"],
                    condition={"StringEquals": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints"]}},
                ),
            ),
        )
        self.model = aws.sagemaker.Model(
            f"{name}-model",
            execution_role_arn=self.role.arn,
            primary_container={
                "image": args.image_uri,
                "model_data_url": pulumi.Output.concat("s3://", self.model_archive.bucket, "/", self.model_archive.key),
                # A new archive version -> a new Model (auto-named), so the endpoint rolls over.
                "environment": {
                    "SAGEMAKER_PROGRAM": "sagemaker_entry.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "MODEL_ARCHIVE_ETAG": self.model_archive.etag,
                    **args.environment,
                },
            },
            opts=child,
        )
        self.endpoint_configuration = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=[
                {
                    "variant_name": VARIANT,
                    "model_name": self.model.name,
                    "instance_type": args.instance_type,
                    "initial_instance_count": args.initial_instance_count,
                }
            ],
            opts=child,
        )
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=self.endpoint_configuration.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]),
        )
        resource_id = pulumi.Output.concat("endpoint/", self.endpoint.name, "/variant/", VARIANT)
        self.scaling_target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="sagemaker",
            resource_id=resource_id,
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=args.min_capacity,
            max_capacity=args.max_capacity,
            opts=child,
        )
        self.scaling_policy = aws.appautoscaling.Policy(
            f"{name}-scaling-policy",
            policy_type="TargetTrackingScaling",
            service_namespace=self.scaling_target.service_namespace,
            resource_id=self.scaling_target.resource_id,
            scalable_dimension=self.scaling_target.scalable_dimension,
            target_tracking_scaling_policy_configuration={
                "target_value": args.target_invocations_per_instance,
                "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=child,
        )
        self.register_outputs({"endpoint_name": self.endpoint.name, "model_name": self.model.name})
