"""EventBridge targets moto lacks or shapes differently: state machines, and S3 events to queues.

The gap (moto 5.2.5): moto's rules deliver to SQS, logs and buses, but a Step
Functions target raises ``NotImplementedError``, which S3 swallows (and which
stops delivery to the rules after it). Here the rule's own pattern still
decides; a matching event starts a uniquely named execution (as AWS's target
does), and an event that cannot be delivered goes to the target's dead-letter
queue, as on AWS. moto's S3 event also differs from AWS's in shape (epoch
``time``, ``eTag``, a ``version-id`` of null, one constant ``sequencer``): it is
reshaped first, for state machines and for SQS queues (the intake queue)
alike. Other targets are delivered by moto's own code, on a copy of the rule
that lists only them (the shared rule is never modified, so concurrent
deliveries are safe).
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import threading
import time
import uuid
from typing import Any

from contracts import dead_letters
from devstack.bridges._support import argument, is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
LOG = logging.getLogger(__name__)


def aws_shaped_s3_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto's S3 EventBridge event in the shape AWS sends it."""
    shaped = json.loads(json.dumps(event))
    if isinstance(shaped.get("time"), (int, float)):
        shaped["time"] = datetime.datetime.fromtimestamp(shaped["time"], datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    shaped["id"] = str(uuid.uuid4())
    obj = (shaped.get("detail") or {}).get("object")
    if isinstance(obj, dict):
        if "eTag" in obj:
            obj["etag"] = obj.pop("eTag")
        if obj.get("version-id") in (None, "null"):  # AWS omits it for unversioned buckets
            obj.pop("version-id", None)
        obj["sequencer"] = next_sequencer()  # moto sends one constant value for every upload
    return shaped


_SEQUENCER_LOCK = threading.Lock()
_LAST_SEQUENCER = [0]


def next_sequencer() -> str:
    """A sequencer as S3 gives one: hex, increasing with each upload (moto's is a constant).

    Made while moto handles the PUT (notifications are sent inside the request), so the
    order is the order in which the uploads were stored.
    """
    with _SEQUENCER_LOCK:
        _LAST_SEQUENCER[0] = max(_LAST_SEQUENCER[0] + 1, time.time_ns())
        return f"{_LAST_SEQUENCER[0]:018X}"


def is_state_machine(arn: str) -> bool:
    return ":states:" in arn and ":stateMachine:" in arn


def _start_execution(account: str, region: str, state_machine_arn: str, event: dict[str, Any]) -> str:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account][region]
    execution = backend.start_execution(state_machine_arn, name=str(uuid.uuid4()), execution_input=json.dumps(event))
    return execution.execution_arn


def _send_to_queue(account: str, region: str, queue_arn: str, event: dict[str, Any]) -> str:
    from moto.sqs.models import sqs_backends

    message = sqs_backends[account][region].send_message(queue_name=queue_arn.split(":")[-1], message_body=json.dumps(event))
    return message.id


def is_queue(arn: str) -> bool:
    return arn.startswith("arn:") and arn.split(":")[2] == "sqs"


def _dead_letter(account: str, region: str, rule_arn: str, target: dict[str, Any], event: dict[str, Any],
                 error: Exception) -> None:
    from moto.sqs.models import sqs_backends

    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        LOG.error("undeliverable event dropped (no dead-letter queue): %s", error)
        return
    sqs_backends[account][region].send_message(
        queue_name=queue_arn.split(":")[-1],
        message_body=json.dumps(event),
        message_attributes={
            dead_letters.ERROR_CODE: {"DataType": "String", "StringValue": type(error).__name__},
            dead_letters.ERROR_MESSAGE: {"DataType": "String", "StringValue": str(error)[:256]},
            dead_letters.RULE_ARN: {"DataType": "String", "StringValue": rule_arn},
            dead_letters.TARGET_ARN: {"DataType": "String", "StringValue": target["Arn"]},
        },
    )


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.events.models import Rule

    original = Rule.send_to_targets
    if is_installed(original, __name__):
        return

    def send_to_targets(self, *args, **kwargs):
        original_event = argument(original, "original_event", (self, *args), kwargs)
        from_s3 = original_event.get("source") == "aws.s3"
        bridged = [t for t in self.targets if is_state_machine(t["Arn"]) or (from_s3 and is_queue(t["Arn"]))]
        if bridged and self.event_pattern.matches_event(original_event):
            event = aws_shaped_s3_event(original_event) if from_s3 else original_event
            for target in bridged:
                try:
                    if is_queue(target["Arn"]):
                        sent = _send_to_queue(self.account_id, self.region_name, target["Arn"], event)
                    else:
                        sent = _start_execution(self.account_id, self.region_name, target["Arn"], event)
                    LOG.info("rule %s delivered to %s: %s", self.name, target["Arn"], sent)
                except Exception as error:  # deliver failures to the target's DLQ, as AWS does
                    _dead_letter(self.account_id, self.region_name, self.arn, target, event, error)
        others = [t for t in self.targets if t not in bridged]
        if others:
            view = copy.copy(self)  # the shared rule keeps its targets: other threads deliver through it too
            view.targets = others
            original(view, *args, **kwargs)

    Rule.send_to_targets = mark(send_to_targets, __name__, original)
