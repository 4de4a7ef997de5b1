"""The stack's event bus (activity and stream events) and an optional SNS topic (e-mail) fed by rules on it.

The e-mail reads as a sentence: each rule's target has an EventBridge input
transformer (:data:`SENTENCES`) that picks fields out of the event and fills a
text template, so the subscriber gets one line, not the event's JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts import events
from infra import policies
from infra.topics import encrypted_topic

#: detail-type -> (input paths, template). A template in quotes makes EventBridge send plain text.
#: One per detail type of ``contracts.events.DETAIL_TYPES`` (a test checks).
SENTENCES: dict[str, tuple[dict[str, str], str]] = {
    events.ACTIVITY_STARTED: (
        {"label": "$.detail.label", "stream": "$.detail.stream_id", "time": "$.detail.start_time",
         "at": "$.detail.start_seconds", "peak": "$.detail.peak_probability", "snapshot": "$.detail.snapshot_uri",
         "episode": "$.detail.episode_id"},
        '"<label> started on camera <stream> at <time> (<at> s into the stream, probability <peak>). '
        'Snapshot: <snapshot>. Episode <episode>."',
    ),
    events.ACTIVITY_ENDED: (
        {"label": "$.detail.label", "stream": "$.detail.stream_id", "start": "$.detail.start_time",
         "end": "$.detail.end_time", "from": "$.detail.start_seconds", "to": "$.detail.end_seconds",
         "peak": "$.detail.peak_probability", "reason": "$.detail.close_reason", "clip": "$.detail.clip_uri",
         "episode": "$.detail.episode_id"},
        '"<label> on camera <stream> ended (<reason>): it lasted from <start> to <end> (<from> s to <to> s into '
        'the stream), peak probability <peak>. Clip: <clip>. Episode <episode>."',
    ),
    events.STREAM_STALLED: (
        {"stream": "$.detail.stream_id", "at": "$.detail.at_seconds", "time": "$.time"},
        '"Camera <stream> stopped sending video: no segment since <at> s into the stream (noticed at <time>)."',
    ),
    events.STREAM_RESUMED: (
        {"stream": "$.detail.stream_id", "at": "$.detail.at_seconds", "time": "$.time"},
        '"Camera <stream> is sending video again from <at> s into the stream (noticed at <time>)."',
    ),
    events.ACTIVITY_DETECTED.detail_type: (
        {"label": "$.detail.label", "stream": "$.detail.stream_id", "at": "$.detail.start_seconds",
         "probability": "$.detail.probability", "segment": "$.detail.s3_uri"},
        '"<label> seen on camera <stream> in the segment starting <at> s into the stream '
        '(probability <probability>): <segment>."',
    ),
}


def render(detail_type: str, event: dict) -> str:
    """What EventBridge's input transformer makes of ``event`` (for tests and the README's examples)."""
    paths, template = SENTENCES[detail_type]
    values = {}
    for name, path in paths.items():
        value: object = event
        for part in path[2:].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        values[name] = "null" if value is None else str(value)
    return json.loads(re.sub(r"<(\w+)>", lambda m: values.get(m.group(1), m.group(0)), template))


@dataclass
class AlertsArgs:
    bus_name: str
    region: str
    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    email: str = ""
    segment_alerts: bool = False


class Alerts(pulumi.ComponentResource):
    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:alerts:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=args.bus_name, opts=child)
        self.topic = None
        if args.email:
            # Rules are named <bus>-<detail type>, so the key's grant to EventBridge can name them up front.
            rules_arn = pulumi.Output.concat(
                "arn:", args.partition, ":events:", args.region, ":", args.account_id, ":rule/", args.bus_name, "/",
                args.bus_name, "-*",
            )
            self.topic_key, self.topic = encrypted_topic(
                f"{name}-topic", self, args.account_id, args.partition, "events.amazonaws.com", rules_arn
            )
            aws.sns.TopicSubscription(f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.email, opts=child)
            rules = []
            for detail_type, (paths, template) in SENTENCES.items():
                if detail_type == events.ACTIVITY_DETECTED.detail_type and not args.segment_alerts:
                    continue
                slug = re.sub(r"(?<!^)([A-Z])", r"-\1", detail_type).lower()
                rule = aws.cloudwatch.EventRule(
                    f"{name}-{slug}",
                    name=f"{args.bus_name}-{slug}",
                    event_bus_name=self.bus.name,
                    event_pattern=json.dumps(events.pattern(detail_type)),
                    opts=child,
                )
                aws.cloudwatch.EventTarget(
                    f"{name}-{slug}-to-topic",
                    rule=rule.name,
                    event_bus_name=self.bus.name,
                    arn=self.topic.arn,
                    input_transformer={"input_paths": paths, "input_template": template},
                    opts=child,
                )
                rules.append(rule)
            aws.sns.TopicPolicy(
                f"{name}-topic-policy",
                arn=self.topic.arn,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            policies.allow_service_from(
                                f"EventBridgePublishes{i}", "events.amazonaws.com", "sns:Publish", self.topic.arn, rule.arn
                            )["Statement"][0]
                            for i, rule in enumerate(rules)
                        ],
                    }
                ),
                opts=child,
            )
        self.register_outputs({"bus_name": self.bus.name})
