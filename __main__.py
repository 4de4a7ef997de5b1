"""The Pulumi program: read the stack's config, derive names, wire the components.

    pulumi stack init dev && pulumi up      # see README.md for every lifecycle command
"""

import os

import pulumi
import pulumi_aws as aws

from contracts.endpoint import max_segment_seconds
from contracts.environment import EndpointEnvironment, LambdaEnvironment
from infra import archives
from infra.alerts import Alerts, AlertsArgs
from infra.console_links import executions_console_url
from infra.episodes import Episodes, EpisodesArgs, settings_environment
from infra.intake import Intake, IntakeArgs, intake_max_concurrency
from infra.live_source import LiveSource, LiveSourceArgs
from infra.model_endpoint import (
    SERVERLESS_MODE, ModelEndpoint, ModelEndpointArgs, default_inference_image, serving_environment,
)
from infra.naming import physical_name
from infra.observability import Observability, ObservabilityArgs
from infra.results import Results, ResultsArgs
from infra.settings import ROOT, Settings
from infra.storage import Storage, StorageArgs
from infra.workflow import Workflow, WorkflowArgs, powertools_layer_parameter, powertools_version
from state_machine.definition import WorkflowTuning

settings = Settings.from_config(pulumi.Config())
project, stack = pulumi.get_project(), pulumi.get_stack()
region = pulumi.Config("aws").require("region")
account_id = aws.get_caller_identity().account_id
# ARNs and the ECR host follow the partition (aws, aws-cn, aws-us-gov, ...), never a literal "arn:aws:".
partition = aws.get_partition()


#: Where every component that builds ARNs deploys.
WHERE = {"account_id": account_id, "region": region, "partition": partition.partition}


def name(role: str, kind: str = "default") -> str:
    return physical_name(project, stack, role, kind)


def repo_path(path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


storage = Storage(
    "storage",
    StorageArgs(
        livestream_bucket_name=name(f"livestream-{account_id}-{region}", "s3_bucket"),
        artifacts_bucket_name=name(f"artifacts-{account_id}-{region}", "s3_bucket"),
        stream_prefix=settings.stream_prefix,
        segment_retention_days=settings.segment_retention_days,
        force_destroy=settings.force_destroy_buckets,
        evidence_prefix=settings.evidence_prefix,
        evidence_retention_days=settings.evidence_retention_days,
    ),
)

results = Results(
    "results",
    ResultsArgs(
        table_name=name("detections", "dynamodb_table"),
        workflow_dlq_name=name("workflow-dlq", "sqs_queue"),
        events_dlq_name=name("events-dlq", "sqs_queue"),
    ),
)

endpoint_name = name("endpoint", "sagemaker_endpoint")
model_endpoint = ModelEndpoint(
    "inference",
    ModelEndpointArgs(
        endpoint_name=endpoint_name,
        role_name=name("sagemaker", "iam_role"),
        model_archive_path=archives.build_model_archive(repo_path(settings.model_dir)),
        artifacts_bucket=storage.artifacts_bucket,
        livestream_bucket=storage.livestream_bucket,
        stream_prefix=settings.stream_prefix,
        image_uri=settings.inference_image
        or default_inference_image(region, settings.endpoint_instance_type, partition.dns_suffix),
        instance_type=settings.endpoint_instance_type,
        initial_instance_count=settings.endpoint_initial_count,
        min_capacity=settings.autoscaling_min_capacity,
        max_capacity=settings.autoscaling_max_capacity,
        target_invocations_per_instance=settings.autoscaling_target_invocations,
        **WHERE,
        log_retention_days=settings.log_retention_days,
        mode=settings.endpoint_mode,
        serverless_memory_mb=settings.serverless_memory_mb,
        serverless_max_concurrency=settings.serverless_max_concurrency,
        environment={
            **EndpointEnvironment(
                allowed_buckets=(name(f"livestream-{account_id}-{region}", "s3_bucket"),),
                max_segment_bytes=settings.max_segment_bytes,
                max_segment_seconds=max_segment_seconds(settings.segment_seconds),
                max_frame_pixels=settings.max_frame_pixels,
            ).to_environ(),
            **serving_environment(settings.endpoint_instance_type, settings.endpoint_mode, settings.endpoint_workers,
                                  settings.endpoint_threads_per_worker, settings.endpoint_job_queue_size),
        },
    ),
)

# The layer of the Powertools release the tests run (see infra.workflow.powertools_layer_parameter).
powertools_layer = settings.powertools_layer_arn or aws.ssm.get_parameter_output(
    name=powertools_layer_parameter(settings.lambda_runtime, powertools_version())
).value
#: What every Lambda function of the stack shares.
LAMBDA = {
    "lambda_runtime": settings.lambda_runtime,
    "powertools_layer_arn": powertools_layer,
    "log_retention_days": settings.log_retention_days,
}

# The stack's bus: ActivityStarted/ActivityEnded (watched labels), StreamStalled/StreamResumed.
alerts = Alerts(
    "alerts",
    AlertsArgs(
        bus_name=name("alerts"), **WHERE, email=settings.alert_email, segment_alerts=settings.segment_alerts,
    ),
)

episodes = Episodes(
    "episodes",
    EpisodesArgs(
        table_name=name("episodes", "dynamodb_table"),
        function_name=name("episodes", "lambda_function"),
        role_name=name("episodes", "iam_role"),
        scheduler_role_name=name("sweep", "iam_role"),
        layer_name=name("ffmpeg"),
        records_table=results.table,
        livestream_bucket=storage.livestream_bucket,
        artifacts_bucket=storage.artifacts_bucket,
        stream_prefix=settings.stream_prefix,
        evidence_prefix=settings.evidence_prefix,
        bus=alerts.bus,
        notify_labels=settings.watch_activities,
        account_id=account_id,
        **LAMBDA,
        timeout_seconds=settings.episodes_timeout_seconds,
        sweep_schedule=settings.sweep_schedule,
        settings_environment=settings_environment(settings),
    ),
)

tuning = WorkflowTuning(
    endpoint_timeout_seconds=settings.endpoint_timeout_seconds,
    episodes_timeout_seconds=settings.episodes_timeout_seconds,
    clips=settings.clips,
    min_confidence=settings.min_confidence,
)
if settings.endpoint_mode == SERVERLESS_MODE:
    tuning = tuning.for_serverless()
workflow = Workflow(
    "workflow",
    WorkflowArgs(
        function_name=name("validate-segment", "lambda_function"),
        state_machine_name=name("workflow", "state_machine"),
        lambda_role_name=name("lambda", "iam_role"),
        state_machine_role_name=name("workflow", "iam_role"),
        livestream_bucket=storage.livestream_bucket,
        stream_prefix=settings.stream_prefix,
        endpoint_name=model_endpoint.endpoint.name,
        table=results.table,
        workflow_dlq=results.workflow_dlq,
        **WHERE,
        **LAMBDA,
        lambda_environment=LambdaEnvironment(
            stream_prefix=settings.stream_prefix,
            max_segment_bytes=settings.max_segment_bytes,
            segment_seconds=settings.segment_seconds,
            result_ttl_days=settings.result_ttl_days,
        ).to_environ(),
        tuning=tuning.with_fast_retries() if settings.fast_retries else tuning,
        alert_bus=alerts.bus,
        watch_activities=settings.watch_activities,
        alert_threshold=settings.alert_threshold,
        segment_alerts=settings.segment_alerts,
        episodes_function=episodes.function,
    ),
)

# Uploads wait in the intake queue; at most intake_max_concurrency of them are in the workflow at once.
intake = Intake(
    "intake",
    IntakeArgs(
        queue_name=name("intake", "sqs_queue"),
        function_name=name("start-workflow", "lambda_function"),
        role_name=name("intake", "iam_role"),
        livestream_bucket=storage.livestream_bucket,
        stream_prefix=settings.stream_prefix,
        state_machine=workflow.state_machine,
        events_dlq=results.events_dlq,
        account_id=account_id,
        **LAMBDA,
        max_concurrency=intake_max_concurrency(
            settings.intake_max_concurrency, settings.endpoint_mode == SERVERLESS_MODE,
            settings.autoscaling_max_capacity, settings.endpoint_job_queue_size, settings.serverless_max_concurrency,
        ),
    ),
)

observability = Observability(
    "observability",
    ObservabilityArgs(
        dashboard_name=name("dashboard"),
        state_machine_arn=workflow.state_machine.arn,
        endpoint_name=model_endpoint.endpoint.name,
        workflow_dlq_name=results.workflow_dlq.name,
        events_dlq_name=results.events_dlq.name,
        variant_name=model_endpoint.variant_name,
        **WHERE,
        alarm_email=settings.alert_email,
    ),
)

live_source = None
if settings.live_source_enabled:
    video = repo_path(settings.live_source_video)
    if not os.path.exists(video):
        raise FileNotFoundError(f"{video} is missing: run `python -m videos fetch` or set liveSourceVideo")
    live_source = LiveSource(
        "live",
        LiveSourceArgs(
            role_name=name("medialive", "iam_role"),
            input_name=name("live-input"),
            channel_name=name("live-channel"),
            video_path=video,
            artifacts_bucket=storage.artifacts_bucket,
            livestream_bucket=storage.livestream_bucket,
            stream_prefix=settings.stream_prefix,
            stream_id=settings.stream_id,
            segment_seconds=settings.segment_seconds,
            **WHERE,
        ),
    )

pulumi.export("livestream_bucket", storage.livestream_bucket.bucket)
pulumi.export("artifacts_bucket", storage.artifacts_bucket.bucket)
pulumi.export("stream_prefix", settings.stream_prefix)
pulumi.export("state_machine_arn", workflow.state_machine.arn)
pulumi.export(
    "executions_console_url",
    workflow.state_machine.arn.apply(lambda arn: executions_console_url(partition.partition, region, arn)),
)
pulumi.export("table_name", results.table.name)
pulumi.export("workflow_dlq_url", results.workflow_dlq.url)
pulumi.export("events_dlq_url", results.events_dlq.url)
pulumi.export("endpoint_name", model_endpoint.endpoint.name)
pulumi.export("validate_function_name", workflow.function.name)
pulumi.export("intake_queue_url", intake.queue.url)
pulumi.export("start_workflow_function_name", intake.function.name)
pulumi.export("dashboard_name", observability.dashboard.dashboard_name)
pulumi.export("medialive_channel_id", live_source.channel.channel_id if live_source else None)
pulumi.export("alert_bus_name", alerts.bus.name)
pulumi.export("episodes_table_name", episodes.table.name)
pulumi.export("episodes_function_name", episodes.function.name)
pulumi.export("evidence_prefix", settings.evidence_prefix)
