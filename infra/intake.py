"""The intake: S3 Object Created -> EventBridge rule -> intake queue -> start-workflow Lambda -> the workflow.

Why a buffer: an upload used to start its execution at once, so a burst (a
camera reconnecting with its backlog, a backfill) became as many executions,
all asking the endpoint together; beyond what it serves within the task
timeout they time out or exhaust their busy waits and end in the DLQ, though a
minute later they would have been recorded. The queue holds the burst instead,
for as long as it lasts (up to its retention), and the event source mapping's
``MaximumConcurrency`` lets only ``intakeMaxConcurrency`` segments into the
workflow at once. What the starter does with each message is in
:mod:`contracts.intake`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.environment import StartWorkflowEnvironment
from contracts.intake import IntakeTuning
from contracts.segments import stream_folder
from infra import archives, policies

START_WORKFLOW_HANDLER = "lambdas.start_workflow.handler.handler"
#: The event source mapping's bounds for ``ScalingConfig.MaximumConcurrency`` (Lambda API reference).
MAXIMUM_CONCURRENCY_RANGE = (2, 1000)


def rule_event_pattern(bucket_name: str, stream_prefix: str) -> dict:
    """Object Created events for every key under ``<prefix>/`` in the livestream bucket.

    Every object under the prefix must end as a record or a dead letter (``seg_1.TS``,
    ``notes.txt`` included), so the rule does not filter on the suffix; playlists end
    at the workflow's first state (EventBridge patterns cannot AND two conditions on one field).
    """
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": [{"prefix": stream_folder(stream_prefix)}]},
        },
    }


def intake_max_concurrency(configured: int, serverless: bool, max_instances: int, job_queue_size: int,
                           serverless_max_concurrency: int) -> int:
    """Segments let into the workflow at once: ``configured``, or (0) what the endpoint can hold.

    Instances: ``autoscalingMaxCapacity x endpointJobQueueSize``, what the largest fleet
    queues without refusing (below that size the busy waits cover the time autoscaling
    takes). Serverless: its ``MaxConcurrency``, beyond which SageMaker throttles.
    Within the event source mapping's range either way.
    """
    wanted = configured or (serverless_max_concurrency if serverless else max_instances * job_queue_size)
    low, high = MAXIMUM_CONCURRENCY_RANGE
    return max(low, min(high, wanted))


@dataclass
class IntakeArgs:
    queue_name: str
    function_name: str
    role_name: str
    livestream_bucket: aws.s3.Bucket
    stream_prefix: str
    state_machine: aws.sfn.StateMachine
    events_dlq: aws.sqs.Queue
    account_id: pulumi.Input[str]
    lambda_runtime: str
    powertools_layer_arn: pulumi.Input[str]
    log_retention_days: int
    max_concurrency: int
    tuning: IntakeTuning = IntakeTuning()


class Intake(pulumi.ComponentResource):
    def __init__(self, name: str, args: IntakeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:intake:Intake", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tuning = args.tuning

        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            visibility_timeout_seconds=tuning.visibility_timeout_seconds,
            message_retention_seconds=tuning.retention_seconds,
            receive_wait_time_seconds=tuning.receive_wait_seconds,
            sqs_managed_sse_enabled=True,
            # A starter that crashed before answering: after its whole budget, SQS moves the event itself.
            redrive_policy=args.events_dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": tuning.redrive_receives})
            ),
            opts=child,
        )

        # --- EventBridge: S3 Object Created -> the intake queue --------------------------------
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-segment-uploaded",
            description="An object was uploaded under the stream prefix",
            event_pattern=args.livestream_bucket.bucket.apply(
                lambda bucket: json.dumps(rule_event_pattern(bucket, args.stream_prefix))
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=self.queue.url,
            policy=pulumi.Output.json_dumps(
                policies.allow_service_from("EventBridgeDelivers", "events.amazonaws.com", "sqs:SendMessage",
                                            self.queue.arn, self.rule.arn)
            ),
            opts=child,
        )
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-queue-segment",
            rule=self.rule.name,
            arn=self.queue.arn,
            retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 20},
            dead_letter_config={"arn": args.events_dlq.arn},
            opts=child,
        )
        # EventBridge itself writes undeliverable events to the events DLQ.
        aws.sqs.QueuePolicy(
            f"{name}-events-dlq-policy",
            queue_url=args.events_dlq.url,
            policy=pulumi.Output.json_dumps(
                policies.allow_service_from(
                    "EventBridgeDeadLetters", "events.amazonaws.com", "sqs:SendMessage", args.events_dlq.arn, self.rule.arn
                )
            ),
            opts=child,
        )

        # --- The starter: the queue -> StartSyncExecution, at most max_concurrency at once ---------
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{args.function_name}", retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role, self.role_policy = policies.service_role(
            f"{name}-role", args.role_name, "lambda.amazonaws.com", args.account_id, self,
            policies.document(
                # What the event source mapping needs on the function's role, and the starter's own delays.
                policies.statement(
                    "ReadIntake",
                    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                    [self.queue.arn],
                ),
                policies.statement("StartWorkflow", ["states:StartSyncExecution"], [args.state_machine.arn]),
                policies.statement("GiveUpToEventsDlq", ["sqs:SendMessage"], [args.events_dlq.arn]),
                policies.statement(
                    "WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [self.log_group.arn, pulumi.Output.concat(self.log_group.arn, ":log-stream:*")],
                ),
                policies.tracing(),
            ),
        )
        self.function = aws.lambda_.Function(
            f"{name}-start-workflow",
            name=args.function_name,
            role=self.role.arn,
            runtime=args.lambda_runtime,
            handler=START_WORKFLOW_HANDLER,
            code=pulumi.FileArchive(archives.build_lambda_archive()),
            layers=[args.powertools_layer_arn],
            # It waits for its execution: the Express limit and the call's overhead.
            timeout=tuning.starter_timeout_seconds,
            memory_size=128,
            environment={
                "variables": {
                    **StartWorkflowEnvironment(
                        state_machine_arn=args.state_machine.arn,
                        intake_queue_url=self.queue.url,
                        events_dlq_url=args.events_dlq.url,
                    ).to_environ(),
                    "POWERTOOLS_SERVICE_NAME": "start-workflow",
                }
            },
            tracing_config={"mode": "Active"},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            event_source_arn=self.queue.arn,
            function_name=self.function.arn,
            # One segment per invocation: MaximumConcurrency is then the number of executions in flight.
            batch_size=1,
            scaling_config={"maximum_concurrency": args.max_concurrency},
            function_response_types=["ReportBatchItemFailures"],
            # Lambda checks the role's SQS permissions when the mapping is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.register_outputs({"queue_url": self.queue.url, "function_name": self.function.name, "rule_name": self.rule.name})
