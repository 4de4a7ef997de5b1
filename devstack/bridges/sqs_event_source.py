"""SQS event source mappings polled as Lambda polls them, at most ``MaximumConcurrency`` at once.

The gap (moto 5.2.5): moto calls the function inline, inside the ``SendMessage``
request, once per message and with made-up attributes (an
``ApproximateReceiveCount`` of 1 at every try); it ignores the mapping's
``ScalingConfig``, ``FunctionResponseTypes`` and the function's answer beyond
"an error or not". The intake (``infra.intake``) relies on all three: the
bound on concurrency is what keeps a burst in the queue.

Bridge: a mapping on a queue gets its own pollers instead, as Lambda's: up to
``ScalingConfig.MaximumConcurrency`` threads (AWS's floor, 2, when unset: a
local stand-in for Lambda's scaling to 1,250), each long-polling the queue
(20 s) for up to ``BatchSize`` messages with the queue's visibility timeout,
invoking the function synchronously with the event AWS sends (real receive
counts and timestamps), then deleting what it processed: everything on success,
all but the ``batchItemFailures`` with ``ReportBatchItemFailures``, nothing on a
function error (the messages come back after their visibility timeout, and the
queue's redrive policy applies as on AWS). Pollers stop when the mapping is
deleted or disabled.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from devstack.bridges._support import argument, is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
LOG = logging.getLogger(__name__)
#: Lambda's minimum for MaximumConcurrency, used when a mapping sets none.
DEFAULT_POLLERS = 2
LONG_POLL_SECONDS = 20


def sqs_event(messages: list[Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda sends for a batch of SQS messages (moto ``Message`` objects)."""
    records = []
    for message in messages:
        records.append({
            "messageId": message.id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.approximate_receive_count),
                "SentTimestamp": str(message.sent_timestamp),
                "SenderId": str(message.sender_id),
                "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType"),
                }
                for name, value in (message.message_attributes or {}).items()
            },
            "md5OfBody": message.body_md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


def processed(messages: list[Any], reply: bytes, function_error: bool, report_item_failures: bool) -> list[Any]:
    """The messages Lambda deletes after the function answered ``reply``."""
    if function_error:
        return []
    if not report_item_failures:
        return list(messages)
    try:
        failures = json.loads(reply or b"{}").get("batchItemFailures") or []
        failed = {f["itemIdentifier"] for f in failures}
    except (ValueError, AttributeError, KeyError, TypeError):
        return []  # an answer Lambda cannot read fails the whole batch
    if "" in failed or None in failed:
        return []
    return [m for m in messages if m.id not in failed]


class Poller:
    """The pollers of one mapping."""

    def __init__(self, lambda_backend: Any, esm: Any, queue: Any):
        self.lambda_backend, self.esm, self.queue = lambda_backend, esm, queue
        self.stopped = threading.Event()
        concurrency = int((esm.scaling_config or {}).get("MaximumConcurrency") or DEFAULT_POLLERS)
        self.threads = [threading.Thread(target=self._run, name=f"esm-{esm.uuid[:8]}-{n}", daemon=True)
                        for n in range(concurrency)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def active(self) -> bool:
        mappings = self.lambda_backend._event_source_mappings
        return not self.stopped.is_set() and mappings.get(self.esm.uuid) is self.esm and bool(self.esm.enabled)

    def _run(self) -> None:
        from moto.sqs.models import sqs_backends

        sqs = sqs_backends[self.queue.account_id][self.queue.region]
        while self.active():
            try:
                messages = sqs.receive_message(
                    self.queue.name, int(self.esm.batch_size or 10), LONG_POLL_SECONDS, int(self.queue.visibility_timeout)
                )
            except Exception:  # the queue was deleted
                LOG.warning("event source %s: queue %s is gone; polling stops", self.esm.uuid, self.queue.name)
                return
            if not messages or not self.active():
                continue  # (a message received after the mapping went away reappears after its visibility timeout)
            self._deliver(sqs, messages)

    def _deliver(self, sqs: Any, messages: list[Any]) -> None:
        response_headers: dict[str, Any] = {}
        try:
            reply = self.lambda_backend.invoke(
                function_name=self.esm.function_arn, qualifier=None,
                body=json.dumps(sqs_event(messages, self.queue.queue_arn, self.queue.region)),
                headers={}, response_headers=response_headers,
            )
        except Exception:
            LOG.exception("event source %s: invoking %s failed", self.esm.uuid, self.esm.function_arn)
            time.sleep(1)  # back off before polling again, as Lambda does after an invoke error
            return
        done = processed(messages, reply, "x-amz-function-error" in response_headers,
                         "ReportBatchItemFailures" in (self.esm.function_response_types or []))
        for message in done:
            try:
                sqs.delete_message(self.queue.name, message.receipt_handle)
            except Exception:  # its receipt handle changed (seen again after its visibility timeout)
                LOG.warning("event source %s: could not delete %s", self.esm.uuid, message.id)


POLLERS: dict[str, Poller] = {}


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.create_event_source_mapping
    if is_installed(original, __name__):
        return

    def create_event_source_mapping(*args, **kwargs):
        esm = original(*args, **kwargs)
        backend = args[0]
        spec = argument(original, "spec", args, kwargs)
        if ":sqs:" not in spec["EventSourceArn"]:
            return esm
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
            if queue.queue_arn == esm.event_source_arn:
                queue.lambda_event_source_mappings.pop(esm.function_arn, None)  # no inline delivery: the pollers do it
                poller = POLLERS[esm.uuid] = Poller(backend, esm, queue)
                poller.start()
        return esm

    LambdaBackend.create_event_source_mapping = mark(create_event_source_mapping, __name__, original)
