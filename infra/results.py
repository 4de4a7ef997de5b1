"""Results and failures: the detections table and the two dead-letter queues."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts import records
from infra.tables import on_demand_table

DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum


@dataclass
class ResultsArgs:
    table_name: str
    workflow_dlq_name: str
    events_dlq_name: str


class Results(pulumi.ComponentResource):
    def __init__(self, name: str, args: ResultsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:results:Results", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.table = on_demand_table(
            f"{name}-detections",
            args.table_name,
            (records.PARTITION_KEY, records.SORT_KEY),
            {key.name: key.encoding for key in records.KEY_ATTRIBUTES},
            child,
            ttl={"attribute_name": records.TTL_ATTRIBUTE, "enabled": True},
        )
        # Failed executions: one message per segment, written by the state machine.
        self.workflow_dlq = self._dead_letter_queue(f"{name}-workflow-dlq", args.workflow_dlq_name)
        # Events EventBridge could not deliver to the state machine at all.
        self.events_dlq = self._dead_letter_queue(f"{name}-events-dlq", args.events_dlq_name)
        self.register_outputs(
            {
                "table_name": self.table.name,
                "workflow_dlq_url": self.workflow_dlq.url,
                "events_dlq_url": self.events_dlq.url,
            }
        )

    def _dead_letter_queue(self, resource_name: str, queue_name: str) -> aws.sqs.Queue:
        return aws.sqs.Queue(
            resource_name,
            name=queue_name,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
