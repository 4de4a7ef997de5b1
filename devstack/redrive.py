"""Send dead-lettered segments back through the workflow, idempotently.

For each workflow dead-letter message: start an execution with the message's
original event and wait for it. If it succeeds (a record written, or
``AlreadyRecorded`` because the segment already has one) the message is
deleted. If it fails again, the original message stays in the queue and the
new execution's own dead letter is removed, so the segment still has exactly
one message; the new reason is reported.

Locally the execution is started and polled; on AWS ``StartSyncExecution``
(Express workflows) returns the outcome directly.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from contracts.dead_letters import DeadLetter
from devstack.observe import clients

RECEIVE_VISIBILITY_S = 300


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)  # object keys now recorded
    still_failing: list[tuple[str, str]] = field(default_factory=list)  # (key, new reason)
    skipped: int = 0


def _run(info: dict[str, Any], event: dict[str, Any], timeout_s: float) -> tuple[str, str]:
    sfn = clients(info)["stepfunctions"]
    name = f"redrive-{uuid.uuid4()}"
    if not info.get("endpoint_url"):  # AWS: Express workflows run synchronously on request
        reply = sfn.start_sync_execution(stateMachineArn=info["state_machine_arn"], name=name, input=json.dumps(event))
        return reply["executionArn"], reply["status"]
    arn = sfn.start_execution(stateMachineArn=info["state_machine_arn"], name=name, input=json.dumps(event))["executionArn"]
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return arn, status
        time.sleep(0.3)
    raise TimeoutError(f"redrive execution {arn} still running after {timeout_s:.0f} s")


def _drop_dead_letter_of(info: dict[str, Any], execution_arn: str) -> str | None:
    """Delete the message the given execution sent; return its reason."""
    sqs = clients(info)["sqs"]
    handles = []
    found = None
    try:
        while True:
            messages = sqs.receive_message(QueueUrl=info["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                letter = DeadLetter.from_body(message["Body"])
                if letter.execution_arn == execution_arn:
                    sqs.delete_message(QueueUrl=info["dlq_url"], ReceiptHandle=message["ReceiptHandle"])
                    found = letter.reason
                else:
                    handles.append(message["ReceiptHandle"])
    finally:
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=info["dlq_url"], ReceiptHandle=handle, VisibilityTimeout=0)


def redrive(
    info: dict[str, Any], only: Callable[[DeadLetter], bool] = lambda letter: True, timeout_s: float = 290
) -> RedriveReport:
    sqs = clients(info)["sqs"]
    report = RedriveReport()
    batch: list[dict[str, Any]] = []
    while True:  # take every current message out of sight while we work on them
        messages = sqs.receive_message(
            QueueUrl=info["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=RECEIVE_VISIBILITY_S
        ).get("Messages", [])
        if not messages:
            break
        batch.extend(messages)
    for message in batch:
        letter = DeadLetter.from_body(message["Body"])
        if not only(letter):
            report.skipped += 1
            sqs.change_message_visibility(QueueUrl=info["dlq_url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            continue
        arn, status = _run(info, letter.event, timeout_s)
        if status == "SUCCEEDED":
            sqs.delete_message(QueueUrl=info["dlq_url"], ReceiptHandle=message["ReceiptHandle"])
            report.redriven.append(letter.object_key or "?")
        else:
            reason = _drop_dead_letter_of(info, arn) or status
            sqs.change_message_visibility(QueueUrl=info["dlq_url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            report.still_failing.append((letter.object_key or "?", reason))
    return report
