"""Alerts on watched activities: an event bus the workflow publishes ``ActivityDetected`` to,
and an optional SNS topic (e-mail) fed by a rule on that bus."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import policies
from infra.topics import encrypted_topic
from state_machine.definition import ALERT_DETAIL_TYPE, ALERT_SOURCE


@dataclass
class AlertsArgs:
    bus_name: str
    region: str
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    email: str = ""


class Alerts(pulumi.ComponentResource):
    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:alerts:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=args.bus_name, opts=child)
        self.topic = None
        if args.email:
            # The rule is named, so the key's grant to EventBridge can name the rule's ARN up front.
            rule_name = f"{args.bus_name}-detected"
            rule_arn = pulumi.Output.concat(
                "arn:", args.partition, ":events:", args.region, ":", args.account_id, ":rule/", args.bus_name, "/", rule_name
            )
            self.topic_key, self.topic = encrypted_topic(
                f"{name}-topic", self, args.account_id, args.partition, "events.amazonaws.com", rule_arn
            )
            aws.sns.TopicSubscription(f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.email, opts=child)
            rule = aws.cloudwatch.EventRule(
                f"{name}-detected",
                name=rule_name,
                event_bus_name=self.bus.name,
                event_pattern=json.dumps({"source": [ALERT_SOURCE], "detail-type": [ALERT_DETAIL_TYPE]}),
                opts=child,
            )
            aws.cloudwatch.EventTarget(f"{name}-to-topic", rule=rule.name, event_bus_name=self.bus.name, arn=self.topic.arn, opts=child)
            aws.sns.TopicPolicy(
                f"{name}-topic-policy",
                arn=self.topic.arn,
                policy=pulumi.Output.json_dumps(
                    policies.allow_service_from(
                        "EventBridgePublishes", "events.amazonaws.com", "sns:Publish", self.topic.arn, rule.arn
                    )
                ),
                opts=child,
            )
        self.register_outputs({"bus_name": self.bus.name})
