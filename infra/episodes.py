"""Episodes: their table, the Lambda that folds records into them (with ffmpeg for evidence),
and the scheduled sweep (EventBridge Scheduler). The stalled-streams alarm is in ``infra.observability``."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts import episodes as ep
from contracts.environment import EpisodesEnvironment
from infra import archives, policies
from infra.tables import on_demand_table

#: Where the layer puts ffmpeg (Lambda adds /opt/bin to PATH).
FFMPEG_IN_LAYER = "/opt/bin/ffmpeg"
EPISODES_HANDLER = "lambdas.episodes.handler.handler"


def build_ffmpeg_layer_dir(out_dir: str | None = None) -> str:
    """A folder ``bin/ffmpeg`` holding the static ffmpeg of the ``imageio-ffmpeg`` wheel (Linux x86_64).

    Pulumi zips the folder when it uploads it (about 68 MB zipped, 173 MB unzipped:
    too large for a direct layer upload, so it goes through the artifacts bucket).
    The binary is hard-linked when it can be (no copy of 173 MB per build).
    """
    import imageio_ffmpeg

    binary = imageio_ffmpeg.get_ffmpeg_exe()
    target_dir = os.path.join(out_dir or archives.build_dir(), "ffmpeg-layer", "bin")
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, "ffmpeg")
    if not os.path.exists(target) or os.path.getsize(target) != os.path.getsize(binary):
        if os.path.exists(target):
            os.remove(target)
        try:
            os.link(binary, target)
        except OSError:
            shutil.copyfile(binary, target)
            shutil.copymode(binary, target)  # the wheel's binary is executable
    return os.path.dirname(target_dir)


@dataclass
class EpisodesArgs:
    table_name: str
    function_name: str
    role_name: str
    scheduler_role_name: str
    layer_name: str
    records_table: aws.dynamodb.Table
    livestream_bucket: aws.s3.Bucket
    artifacts_bucket: aws.s3.Bucket
    stream_prefix: str
    evidence_prefix: str
    bus: aws.cloudwatch.EventBus
    notify_labels: tuple[str, ...]
    account_id: pulumi.Input[str]
    lambda_runtime: str
    powertools_layer_arn: pulumi.Input[str]
    log_retention_days: int
    timeout_seconds: int
    sweep_schedule: str
    #: The stack settings the Lambda reads (:func:`settings_environment`); the component adds its resources' names.
    settings_environment: dict[str, Any]


class Episodes(pulumi.ComponentResource):
    def __init__(self, name: str, args: EpisodesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:episodes:Episodes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label_key, start_key = ep.LABEL_INDEX_KEYS
        self.table = on_demand_table(
            f"{name}-table",
            args.table_name,
            (ep.PARTITION_KEY, ep.SORT_KEY),
            {ep.PARTITION_KEY: "S", ep.SORT_KEY: "S", label_key: "S", start_key: "S"},
            child,
            # Across streams per label, by wall-clock start (sparse: state and outbox items have no label).
            global_secondary_indexes=[
                {"name": ep.LABEL_INDEX, "hash_key": label_key, "range_key": start_key, "projection_type": "ALL"}
            ],
        )

        # ffmpeg for the evidence, from the imageio-ffmpeg wheel, as a layer uploaded through S3.
        layer_object = aws.s3.BucketObjectv2(
            f"{name}-ffmpeg-layer-zip",
            bucket=args.artifacts_bucket.id,
            key="layers/ffmpeg.zip",
            source=pulumi.FileArchive(build_ffmpeg_layer_dir()),
            opts=child,
        )
        self.ffmpeg_layer = aws.lambda_.LayerVersion(
            f"{name}-ffmpeg",
            layer_name=args.layer_name,
            s3_bucket=layer_object.bucket,
            s3_key=layer_object.key,
            s3_object_version=layer_object.version_id,
            compatible_runtimes=[args.lambda_runtime],
            compatible_architectures=["x86_64"],
            description="Static ffmpeg (imageio-ffmpeg wheel) at /opt/bin/ffmpeg",
            opts=child,
        )

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{args.function_name}", retention_in_days=args.log_retention_days, opts=child
        )
        evidence_objects = pulumi.Output.concat(args.livestream_bucket.arn, "/", args.evidence_prefix.strip("/"), "/*")
        table_arn, records_arn = self.table.arn, args.records_table.arn
        self.role, self.role_policy = policies.service_role(
            f"{name}-role", args.role_name, "lambda.amazonaws.com", args.account_id, self,
            policies.document(
                policies.statement("ReadRecords", ["dynamodb:Query", "dynamodb:GetItem"], [records_arn]),
                # A record that arrived after its sequence was declared lost is marked late.
                policies.statement("MarkLateRecords", ["dynamodb:UpdateItem"], [records_arn]),
                # The fold's transaction (state, episodes, outbox), claims, evidence, the sweep's scan.
                policies.statement(
                    "FoldEpisodes",
                    ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem",
                     "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
                    [table_arn],
                ),
                policies.statement(
                    "ReadSegments", ["s3:GetObject"],
                    [pulumi.Output.concat(args.livestream_bucket.arn, "/", args.stream_prefix.strip("/"), "/*")],
                ),
                policies.statement("WriteEvidence", ["s3:PutObject"], [evidence_objects]),
                policies.statement("SendEvents", ["events:PutEvents"], [args.bus.arn]),
                policies.statement(
                    "WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [self.log_group.arn, pulumi.Output.concat(self.log_group.arn, ":log-stream:*")],
                ),
                policies.tracing(),
            ),
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            role=self.role.arn,
            runtime=args.lambda_runtime,
            handler=EPISODES_HANDLER,
            code=pulumi.FileArchive(archives.build_lambda_archive()),
            layers=[args.powertools_layer_arn, self.ffmpeg_layer.arn],
            timeout=args.timeout_seconds,
            # ffmpeg remuxes and decodes one frame; more memory is also more CPU on Lambda.
            memory_size=1024,
            ephemeral_storage={"size": 2048},
            environment={
                "variables": {
                    **EpisodesEnvironment(
                        **args.settings_environment,
                        episodes_table=self.table.name,
                        records_table=args.records_table.name,
                        event_bus_name=args.bus.name,
                        notify_labels=tuple(args.notify_labels),
                        evidence_bucket=args.livestream_bucket.bucket,
                        evidence_prefix=args.evidence_prefix.strip("/"),
                        ffmpeg_path=FFMPEG_IN_LAYER,
                    ).to_environ(),
                    "POWERTOOLS_SERVICE_NAME": "episodes",
                }
            },
            tracing_config={"mode": "Active"},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )

        # The sweep: every minute, fold every stream as of now (lateness, stalls, outbox left-overs).
        self.scheduler_role, _ = policies.service_role(
            f"{name}-scheduler-role", args.scheduler_role_name, "scheduler.amazonaws.com", args.account_id, self,
            policies.document(policies.statement("InvokeSweep", ["lambda:InvokeFunction"], [self.function.arn])),
        )
        self.schedule = aws.scheduler.Schedule(
            f"{name}-sweep",
            schedule_expression=args.sweep_schedule,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": self.function.arn,
                "role_arn": self.scheduler_role.arn,
                # The schedule's own time is the sweep's "now".
                "input": json.dumps({"sweep": True, "time": "<aws.scheduler.scheduled-time>"}),
                "retry_policy": {"maximum_retry_attempts": 2, "maximum_event_age_in_seconds": 120},
            },
            opts=child,
        )
        self.register_outputs({"table_name": self.table.name, "function_name": self.function.name})


#: Fields of :class:`contracts.environment.EpisodesEnvironment` that are stack settings of the same name.
SETTINGS_FIELDS = (
    "episode_threshold", "episode_open_segments", "episode_close_segments", "episode_lateness_seconds",
    "segment_seconds", "evidence_preroll_seconds", "evidence_postroll_seconds", "evidence_max_clip_seconds",
)


def settings_environment(settings) -> dict[str, Any]:
    """The fields of :class:`contracts.environment.EpisodesEnvironment` that come from the stack's settings."""
    values = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
    values["stall_seconds"] = settings.stall_segments * settings.segment_seconds
    return values
