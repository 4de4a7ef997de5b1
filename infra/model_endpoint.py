"""Model and endpoint: model.tar.gz, the SageMaker Model, endpoint configuration, endpoint, autoscaling.

Two modes (config ``endpointMode``): ``instance`` (instances that bill per hour,
scaled by Application Auto Scaling on invocations per instance) and
``serverless`` (a SageMaker Serverless endpoint: ``ServerlessConfig`` with memory
and max concurrency on the variant, billed per use, no autoscaling resources,
CPU only).

The Model and EndpointConfiguration are auto-named by Pulumi. Changing the
model (a new ``model.tar.gz``) replaces both; Pulumi creates the replacements
first, then updates the endpoint to the new configuration (SageMaker switches
traffic without downtime), then deletes the old ones.

The archive's key is content-addressed (``model/<sha256>/model.tar.gz``): each
Model points at its own bytes, so an older Model, and SageMaker's rollback of a
failed endpoint update, never load a newer archive.

Changing the instance type of an autoscaled endpoint: SageMaker refuses an
UpdateEndpoint that changes the instance type of a variant registered as a
scalable target ("Update endpoints that use auto scaling", SageMaker developer
guide). The variant's name therefore follows the instance type
(:func:`variant_name`): a new type is a new variant in the new configuration,
the update replaces the registered variant instead of changing its type, and the
scalable target, whose resource id names the variant, is replaced: registered
for the new variant after the endpoint update, the old registration deleted
after that. Model-only changes keep the variant and its registration.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from contracts.environment import MMS_WORKERS, OMP_THREADS
from contracts.segments import stream_folder
from infra import policies

#: AWS Deep Learning Containers registry account for the MXNet images, per region: every region
#: AWS lists for them, as published in the registries of the SageMaker Python SDK's
#: ``src/sagemaker/image_uri_config/mxnet.json`` (the table behind ``sagemaker.image_uris.retrieve``;
#: AWS's own per-region "Docker Registry Paths" pages now point to the DLC "available images" list).
DLC_ACCOUNTS = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-1": "763104351884",
    "ap-northeast-2": "763104351884",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "763104351884",
    "ap-south-2": "772153158452",
    "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-central-1": "763104351884",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-1": "763104351884",
    "eu-central-2": "380420809688",
    "eu-north-1": "763104351884",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eu-west-1": "763104351884",
    "eu-west-2": "763104351884",
    "eu-west-3": "763104351884",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "sa-east-1": "763104351884",
    "us-east-1": "763104351884",
    "us-east-2": "763104351884",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
    "us-iso-east-1": "886529160074",
    "us-isob-east-1": "094389454867",
    "us-west-1": "763104351884",
    "us-west-2": "763104351884",
}
#: AWS's MXNet 1.9 inference images, Python 3.8 (aws/deep-learning-containers, available_images.md).
MXNET_INFERENCE_TAGS = {"cpu": "mxnet-inference:1.9.0-cpu-py38", "gpu": "mxnet-inference:1.9.0-gpu-py38"}
MXNET_INFERENCE_TAG = MXNET_INFERENCE_TAGS["cpu"]
#: SageMaker hosting instance families with NVIDIA GPUs: they get the GPU image.
GPU_INSTANCE_FAMILIES = ("ml.p2", "ml.p3", "ml.p4d", "ml.p4de", "ml.p5", "ml.g4dn", "ml.g5", "ml.g6", "ml.g6e")
#: Accelerators AWS's MXNet image cannot use (they need a Neuron-compiled model).
NEURON_INSTANCE_FAMILIES = ("ml.inf1", "ml.inf2", "ml.trn1")
VARIANT_PREFIX = "AllTraffic"
INSTANCE_MODE, SERVERLESS_MODE = "instance", "serverless"
#: SageMaker Serverless limits (memory in 1 GB steps, concurrency per endpoint).
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200


def instance_family(instance_type: str) -> str:
    """``ml.g4dn.xlarge`` -> ``ml.g4dn``."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        raise ValueError(f"{instance_type!r} is not a SageMaker instance type (ml.<family>.<size>)")
    return ".".join(parts[:2])


def is_gpu_instance(instance_type: str) -> bool:
    family = instance_family(instance_type)
    if family in NEURON_INSTANCE_FAMILIES:
        raise ValueError(
            f"{instance_type} runs Inferentia/Trainium accelerators, which AWS's MXNet image cannot use; "
            "choose a CPU (ml.c5, ml.m5 ...) or GPU (ml.g4dn, ml.g5, ml.p3 ...) instance type"
        )
    return family in GPU_INSTANCE_FAMILIES


def instance_vcpus(instance_type: str) -> int:
    """vCPUs of an instance type, from its size as EC2 names them: large 2, xlarge 4, Nxlarge 4N (medium 2)."""
    size = instance_type.split(".")[-1]
    if size in ("medium", "large"):
        return 2
    match = re.fullmatch(r"(\d*)xlarge", size)
    if not match:
        raise ValueError(f"cannot tell the vCPUs of {instance_type!r}: set endpointWorkers and endpointThreadsPerWorker")
    return 4 * int(match.group(1) or 1)


def serving_environment(
    instance_type: str, mode: str, workers: int, threads_per_worker: int, job_queue_size: int | None = None
) -> dict[str, str]:
    """MMS's workers, each worker's OpenMP threads and MMS's job queue, as the Model's environment sets them.

    ``0`` workers is the measured rule (``bench/results/serving.md``): on a CPU instance one
    worker per vCPU, each with one OpenMP thread (``vCPUs // workers`` threads when only the
    workers are set, ``vCPUs // threads`` workers when only the threads are). Through MMS, processes scale better than threads: on 2 vCPUs 2x1
    served 1.15-1.26x the segments/s of 1x2 at concurrency 8, at about 850 MiB per worker,
    which fits every CPU family SageMaker offers (at least 2 GiB per vCPU). On a GPU
    instance ``0`` leaves MMS's default (one worker per GPU; never measured here); in
    serverless mode, whose vCPUs SageMaker does not state, one worker and the toolkit's
    threads. MMS reads ``MMS_*`` variables as its settings (the toolkit's configuration
    enables it): ``MMS_JOB_QUEUE_SIZE`` bounds the requests it queues per model, beyond
    which it answers 503 at once (``contracts.invoke_endpoint``'s busy).
    """
    environment = {}
    if job_queue_size:
        environment["MMS_JOB_QUEUE_SIZE"] = str(job_queue_size)
    threads = threads_per_worker
    if mode == INSTANCE_MODE and not is_gpu_instance(instance_type):
        if not (workers and threads):  # the vCPUs are needed only to fill in what is not set
            vcpus = instance_vcpus(instance_type)
            workers = workers or max(1, vcpus // (threads or 1))
            threads = threads or max(1, vcpus // workers)
    elif mode == INSTANCE_MODE and workers and not threads:
        threads = max(1, instance_vcpus(instance_type) // workers)
    elif mode != INSTANCE_MODE:
        workers = workers or 1
    if workers:
        environment[MMS_WORKERS] = str(workers)
    if threads:
        environment[OMP_THREADS] = str(threads)
    return environment


AUTOSCALING_HEADROOM = 0.7  # the share of an instance's measured rate its target keeps it at


def autoscaling_target(instance_segments_per_second: float, headroom: float = AUTOSCALING_HEADROOM) -> int:
    """``SageMakerVariantInvocationsPerInstance`` (invocations a minute) for an instance that serves
    ``instance_segments_per_second`` with every worker busy: ``floor(60 x rate x headroom)``.

    The rate is 1 / the service time per segment measured with overlapping requests
    (``bench/serving.py``'s best setting at its highest concurrency, at the stream's
    resolution and ``clips``); the headroom leaves room for the minutes autoscaling takes
    to add an instance. A 10-second stream is 6 invocations a minute.
    """
    if instance_segments_per_second <= 0 or not 0 < headroom <= 1:
        raise ValueError("need a positive rate and a headroom in (0, 1]")
    # Rounded first: 60 x 1.5 x 0.7 is 62.99999999999999 in floating point, and 63 is meant.
    return max(1, math.floor(round(60 * instance_segments_per_second * headroom, 6)))


def default_inference_image(region: str, instance_type: str, dns_suffix: str = "amazonaws.com") -> str:
    """AWS's MXNet 1.9 inference image (Python 3.8) for ``region``, the GPU one on GPU instance types;
    ``dns_suffix`` is the partition's."""
    if region not in DLC_ACCOUNTS:
        raise ValueError(
            f"no AWS Deep Learning Container registry is known for region {region!r} "
            f"(known: {', '.join(sorted(DLC_ACCOUNTS))}); set the stack config inferenceImage to an image URI"
        )
    tag = MXNET_INFERENCE_TAGS["gpu" if is_gpu_instance(instance_type) else "cpu"]
    return f"{DLC_ACCOUNTS[region]}.dkr.ecr.{region}.{dns_suffix}/{tag}"


def variant_name(instance_type: str) -> str:
    """The production variant's name, which follows the instance type (see the module docstring)."""
    return f"{VARIANT_PREFIX}-" + re.sub(r"[^A-Za-z0-9]+", "-", instance_type).strip("-")


def archive_key(path: str) -> str:
    """Content-addressed S3 key of a model archive: ``model/<sha256>/model.tar.gz``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"model/{digest.hexdigest()}/model.tar.gz"


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
    partition: pulumi.Input[str]
    log_retention_days: int
    environment: dict[str, str] = field(default_factory=dict)
    #: ``instance`` or ``serverless``; with ``serverless`` the instance and autoscaling fields are unused.
    mode: str = INSTANCE_MODE
    serverless_memory_mb: int = 6144
    serverless_max_concurrency: int = 5


class ModelEndpoint(pulumi.ComponentResource):
    def __init__(self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:inference:ModelEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.model_archive = aws.s3.BucketObjectv2(
            f"{name}-model-archive",
            bucket=args.artifacts_bucket.id,
            key=archive_key(args.model_archive_path),
            source=pulumi.FileAsset(args.model_archive_path),
            opts=child,
        )
        repository = args.image_uri.split("/", 1)[1].split(":")[0] if "/" in args.image_uri else args.image_uri
        registry_account = args.image_uri.split(".", 1)[0]
        log_group_arn = pulumi.Output.concat(
            "arn:", args.partition, ":logs:", args.region, ":", args.account_id, ":log-group:/aws/sagemaker/Endpoints/", args.endpoint_name
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/sagemaker/Endpoints/{args.endpoint_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role, self.role_policy = policies.service_role(
            f"{name}-role", args.role_name, "sagemaker.amazonaws.com", args.account_id, self,
            policies.document(
                policies.statement(
                    "ReadModelArchive", ["s3:GetObject"], [pulumi.Output.concat(args.artifacts_bucket.arn, "/model/*")]
                ),
                policies.statement(
                    "ReadSegments",
                    ["s3:GetObject"],
                    [pulumi.Output.concat(args.livestream_bucket.arn, "/", stream_folder(args.stream_prefix), "*")],
                ),
                # A missing segment must be a 404 (object_not_found), not a 403.
                policies.list_under_prefix("ListSegments", args.livestream_bucket.arn, args.stream_prefix),
                policies.statement("PullImageToken", ["ecr:GetAuthorizationToken"], ["*"]),
                policies.statement(
                    "PullImage",
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    [pulumi.Output.concat("arn:", args.partition, ":ecr:", args.region, ":", registry_account, ":repository/", repository)],
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
                # A new archive has a new key -> a new Model (auto-named), so the endpoint rolls over.
                "model_data_url": pulumi.Output.concat("s3://", self.model_archive.bucket, "/", self.model_archive.key),
                "environment": {
                    "SAGEMAKER_PROGRAM": "sagemaker_entry.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    **args.environment,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.variant_name = variant_name(SERVERLESS_MODE if args.mode == SERVERLESS_MODE else args.instance_type)
        variant: dict = {"variant_name": self.variant_name, "model_name": self.model.name}
        if args.mode == SERVERLESS_MODE:
            variant["serverless_config"] = {
                "memory_size_in_mb": args.serverless_memory_mb,
                "max_concurrency": args.serverless_max_concurrency,
            }
        else:
            variant["instance_type"] = args.instance_type
            variant["initial_instance_count"] = args.initial_instance_count
        self.endpoint_configuration = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=[variant],
            opts=child,
        )
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=self.endpoint_configuration.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.role_policy]),
        )
        self.scaling_target = self.scaling_policy = None
        if args.mode == SERVERLESS_MODE:  # SageMaker scales a serverless endpoint itself
            self.register_outputs(
                {"endpoint_name": self.endpoint.name, "model_name": self.model.name, "variant_name": self.variant_name}
            )
            return
        resource_id = pulumi.Output.concat("endpoint/", self.endpoint.name, "/variant/", self.variant_name)
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
        self.register_outputs(
            {"endpoint_name": self.endpoint.name, "model_name": self.model.name, "variant_name": self.variant_name}
        )
