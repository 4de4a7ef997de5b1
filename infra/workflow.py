"""The workflow: validation Lambda and Express state machine (the intake, ``infra.intake``, starts it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from contracts.segments import stream_folder
from infra import archives, policies
from state_machine.definition import WorkflowTargets, WorkflowTuning, build_definition
from state_machine.permissions import required_permissions


def powertools_version() -> str:
    """The Powertools for AWS Lambda (Python) version installed here: the one the tests run."""
    from importlib.metadata import version

    return version("aws-lambda-powertools")


def powertools_layer_parameter(runtime: str, version: str, architecture: str = "x86_64") -> str:
    """The public SSM parameter holding the ARN of Powertools' layer for exactly ``version``.

    The Powertools project publishes, in every region, one parameter per release
    ``/aws/service/powertools/python/{arch}/{python_version}/{version}`` whose value is
    that release's layer ARN (Powertools docs, "Lambda Layer", SSM parameters). The
    layer's own version number (the ``:N`` of the ARN) is a per-region sequence that
    does not follow the package version, so it is looked up, not written here.
    """
    return f"/aws/service/powertools/python/{architecture}/{runtime}/{version}"


@dataclass
class WorkflowArgs:
    function_name: str
    state_machine_name: str
    lambda_role_name: str
    state_machine_role_name: str
    livestream_bucket: aws.s3.Bucket
    stream_prefix: str
    endpoint_name: pulumi.Input[str]
    table: aws.dynamodb.Table
    workflow_dlq: aws.sqs.Queue
    account_id: pulumi.Input[str]
    region: str
    partition: str
    lambda_runtime: str
    powertools_layer_arn: pulumi.Input[str]
    log_retention_days: int
    lambda_environment: dict[str, str]
    tuning: WorkflowTuning
    alert_bus: aws.cloudwatch.EventBus | None = None
    watch_activities: tuple[str, ...] = field(default_factory=tuple)
    alert_threshold: float = 0.5
    segment_alerts: bool = False
    episodes_function: aws.lambda_.Function | None = None


class Workflow(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:workflow:Workflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # --- Validation Lambda ------------------------------------------------------------
        self.lambda_log_group = aws.cloudwatch.LogGroup(
            f"{name}-lambda-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.lambda_role, self.lambda_policy = policies.service_role(
            f"{name}-lambda-role", args.lambda_role_name, "lambda.amazonaws.com", args.account_id, self,
            policies.document(
                # HEAD and the ranged GET of the first packets are both s3:GetObject.
                policies.statement(
                    "ReadSegments",
                    ["s3:GetObject"],
                    [pulumi.Output.concat(args.livestream_bucket.arn, "/", stream_folder(args.stream_prefix), "*")],
                ),
                # A missing segment must be a 404 (OBJECT_MISSING), not a 403.
                policies.list_under_prefix("ListSegments", args.livestream_bucket.arn, args.stream_prefix),
                policies.statement(
                    "WriteLogs",
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [self.lambda_log_group.arn, pulumi.Output.concat(self.lambda_log_group.arn, ":log-stream:*")],
                ),
                policies.tracing(),
            ),
        )
        # The layer of the Powertools release the tests run (see powertools_layer_parameter).
        layer = args.powertools_layer_arn or aws.ssm.get_parameter_output(
            name=powertools_layer_parameter(args.lambda_runtime, powertools_version())
        ).value
        self.function = aws.lambda_.Function(
            f"{name}-validate-segment",
            name=args.function_name,
            role=self.lambda_role.arn,
            runtime=args.lambda_runtime,
            handler=archives.LAMBDA_HANDLER,
            code=pulumi.FileArchive(archives.build_lambda_archive()),
            layers=[layer],
            timeout=args.tuning.lambda_timeout_seconds,
            memory_size=256,
            environment={"variables": {**args.lambda_environment, "POWERTOOLS_SERVICE_NAME": "validate-segment"}},
            tracing_config={"mode": "Active"},
            logging_config={"log_format": "JSON", "log_group": self.lambda_log_group.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.lambda_policy]),
        )

        # --- State machine ----------------------------------------------------------------
        self.state_machine_log_group = aws.cloudwatch.LogGroup(
            f"{name}-state-machine-logs",
            # The /aws/vendedlogs/ prefix keeps Step Functions' log resource policy small.
            name=f"/aws/vendedlogs/states/{args.state_machine_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )

        def definition_for(function_arn: str, endpoint_name: str, table_name: str, queue_url: str, bus_name: str | None,
                           episodes_arn: str | None):
            return build_definition(
                WorkflowTargets(
                    validate_function_arn=function_arn,
                    endpoint_name=endpoint_name,
                    table_name=table_name,
                    dead_letter_queue_url=queue_url,
                    alert_bus_name=bus_name,
                    watch_activities=tuple(args.watch_activities),
                    alert_threshold=args.alert_threshold,
                    partition=args.partition,
                    segment_alerts=args.segment_alerts,
                    episodes_function_arn=episodes_arn,
                ),
                args.tuning,
            )

        bus_name = args.alert_bus.name if args.alert_bus else None
        episodes_arn = args.episodes_function.arn if args.episodes_function else None
        self.definition = pulumi.Output.all(
            self.function.arn, args.endpoint_name, args.table.name, args.workflow_dlq.url, bus_name, episodes_arn
        ).apply(lambda values: json.dumps(definition_for(*values), indent=2))

        # The role's permissions are read off the definition: each Task's integration
        # maps to one action on the resource its parameters name.
        resource_arns = {
            "<function>": self.function.arn,
            "<episodes>": episodes_arn,
            "<endpoint>": pulumi.Output.concat(
                "arn:", args.partition, ":sagemaker:", args.region, ":", args.account_id, ":endpoint/",
                pulumi.Output.from_input(args.endpoint_name).apply(str.lower),
            ),
            "<table>": args.table.arn,
            "<queue>": args.workflow_dlq.arn,
            "<bus>": args.alert_bus.arn if args.alert_bus else None,
        }
        shape = definition_for(
            "<function>", "<endpoint>", "<table>", "<queue>", "<bus>" if args.alert_bus else None,
            "<episodes>" if args.episodes_function else None,
        )
        # Each Task's permission names the resource its parameters name (placeholders in the shape).
        task_statements = [
            policies.statement(f"{p.state}{p.action.split(':')[1]}", [p.action], [resource_arns[p.resource_ref]])
            for p in required_permissions(shape)
        ]
        self.state_machine_role, self.state_machine_policy = policies.service_role(
            f"{name}-state-machine-role", args.state_machine_role_name, "states.amazonaws.com", args.account_id, self,
            policies.document(
                *task_statements,
                policies.statement("DeliverLogs", policies.LOG_DELIVERY_ACTIONS, ["*"]),
                policies.tracing(),
            ),
        )
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=args.state_machine_name,
            type="EXPRESS",
            role_arn=self.state_machine_role.arn,
            definition=self.definition,
            # Express workflows keep their history only in these logs; the console's
            # execution view reads them, so log everything with execution data.
            logging_configuration={
                "level": "ALL",
                "include_execution_data": True,
                "log_destination": pulumi.Output.concat(self.state_machine_log_group.arn, ":*"),
            },
            tracing_configuration={"enabled": True},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.state_machine_policy]),
        )

        self.register_outputs(
            {"state_machine_arn": self.state_machine.arn, "function_name": self.function.name}
        )
