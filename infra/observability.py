"""Alarms and a dashboard; an optional SNS topic (e-mail) for the alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.topics import encrypted_topic


@dataclass
class ObservabilityArgs:
    dashboard_name: str
    region: str
    state_machine_arn: pulumi.Output[str]
    endpoint_name: pulumi.Output[str]
    workflow_dlq_name: pulumi.Output[str]
    events_dlq_name: pulumi.Output[str]
    variant_name: pulumi.Input[str]
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    alarm_email: str = ""
    model_latency_threshold_ms: int = 5000


class Observability(pulumi.ComponentResource):
    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:observability:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = None
        actions: list = []
        if args.alarm_email:
            # CloudWatch publishes alarm notifications: its key grant covers this account's alarms only.
            alarm_arns = pulumi.Output.concat(
                "arn:", args.partition, ":cloudwatch:", args.region, ":", args.account_id, ":alarm:*"
            )
            self.topic_key, self.topic = encrypted_topic(
                f"{name}-alarms", self, args.account_id, args.partition, "cloudwatch.amazonaws.com", alarm_arns
            )
            aws.sns.TopicSubscription(
                f"{name}-alarms-email", topic=self.topic.arn, protocol="email", endpoint=args.alarm_email, opts=child
            )
            actions = [self.topic.arn]

        def alarm(suffix: str, description: str, threshold: float = 0, **metric) -> aws.cloudwatch.MetricAlarm:
            """Alarm when the metric goes above ``threshold`` (by default: any at all) in a minute."""
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{suffix}",
                alarm_description=description,
                comparison_operator="GreaterThanThreshold",
                threshold=threshold,
                evaluation_periods=1,
                period=60,
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
                **metric,
            )

        self.alarms = [
            alarm(
                "workflow-dlq-not-empty",
                "Segments failed: read them with `devstack dlq` or the SQS console, fix, then redrive.",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": args.workflow_dlq_name},
                statistic="Maximum",
            ),
            alarm(
                "events-dlq-not-empty",
                "EventBridge could not start the workflow for some uploads.",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": args.events_dlq_name},
                statistic="Maximum",
            ),
            alarm(
                "executions-failed",
                "Workflow executions failed.",
                namespace="AWS/States",
                metric_name="ExecutionsFailed",
                dimensions={"StateMachineArn": args.state_machine_arn},
                statistic="Sum",
            ),
            alarm(
                "executions-timed-out",
                "Workflow executions hit the Express 5-minute limit.",
                namespace="AWS/States",
                metric_name="ExecutionsTimedOut",
                dimensions={"StateMachineArn": args.state_machine_arn},
                statistic="Sum",
            ),
            alarm(
                "endpoint-5xx",
                "The endpoint answered 5xx.",
                namespace="AWS/SageMaker",
                metric_name="Invocation5XXErrors",
                dimensions={"EndpointName": args.endpoint_name, "VariantName": args.variant_name},
                statistic="Sum",
            ),
            alarm(
                "model-latency",
                "p90 model latency is high: a segment takes too long to score.",
                namespace="AWS/SageMaker",
                metric_name="ModelLatency",
                dimensions={"EndpointName": args.endpoint_name, "VariantName": args.variant_name},
                extended_statistic="p90",
                # ModelLatency is reported in microseconds.
                threshold=args.model_latency_threshold_ms * 1000,
            ),
            alarm(
                "streams-stalled",
                "A stream stopped sending segments (StreamStalled events): `devstack alerts`, or the stack's bus.",
                # Published by the episodes Lambda (Powertools metrics, embedded metric format).
                namespace="ActivityDetection",
                metric_name="StreamsStalled",
                dimensions={"service": "episodes"},
                statistic="Sum",
            ),
        ]
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=pulumi.Output.all(
                args.state_machine_arn, args.endpoint_name, args.workflow_dlq_name, args.events_dlq_name, args.variant_name
            ).apply(lambda values: json.dumps(dashboard_body(args.region, *values))),
            opts=child,
        )
        self.register_outputs({"dashboard_name": self.dashboard.dashboard_name})


def dashboard_body(
    region: str, state_machine_arn: str, endpoint_name: str, workflow_dlq: str, events_dlq: str, variant: str
) -> dict:
    def widget(title: str, metrics: list, x: int, y: int, stat: str = "Sum") -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": 60, "metrics": metrics},
        }

    return {
        "widgets": [
            widget(
                "Executions",
                [["AWS/States", m, "StateMachineArn", state_machine_arn] for m in
                 ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")],
                0, 0,
            ),
            widget(
                "Endpoint invocations and errors",
                [["AWS/SageMaker", m, "EndpointName", endpoint_name, "VariantName", variant] for m in
                 ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors")],
                12, 0,
            ),
            widget(
                "Model latency (microseconds)",
                [["AWS/SageMaker", "ModelLatency", "EndpointName", endpoint_name, "VariantName", variant]],
                0, 6, stat="p90",
            ),
            widget(
                "Dead-letter queues",
                [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q] for q in (workflow_dlq, events_dlq)],
                12, 6, stat="Maximum",
            ),
        ]
    }
