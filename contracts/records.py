"""The detection record: one DynamoDB item per segment.

A stream's timeline is one ``Query`` on the partition key, ordered by the sort
key. Nested results (top-k, per-clip results, frames, model identity, timings)
are stored as JSON strings: Amazon States Language cannot turn a JSON list of
unknown length into DynamoDB's typed ``L``/``M`` form, and the reader decodes
them (:func:`decode_item`). The probability is a real ``N``.

The same :data:`ATTRIBUTES` build the state machine's ``putItem`` parameters
and decode items in the results reader, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

PARTITION_KEY = "stream_id"
SORT_KEY = "segment_seq"
TTL_ATTRIBUTE = "expires_at"

#: Where the workflow keeps the validated segment and the endpoint's answer.
SEGMENT_PATH = "$.segment"
RESULT_PATH = "$.inference.result"

Encoding = Literal["S", "N", "BOOL", "JSON"]


@dataclass(frozen=True)
class Attribute:
    """One item attribute: its name, how it is stored, and where its value comes from."""

    name: str
    encoding: Encoding
    #: JSONPath into the workflow's state (``$.``) or its context object (``$$.``).
    source: str

    def asl_value(self) -> dict[str, str]:
        """The DynamoDB-typed value template for a ``putItem`` task."""
        if self.encoding == "S":
            return {"S.$": self.source}
        if self.encoding == "N":
            # DynamoDB numbers travel as strings.
            return {"N.$": f"States.Format('{{}}', {self.source})"}
        if self.encoding == "BOOL":
            return {"BOOL.$": self.source}
        return {"S.$": f"States.JsonToString({self.source})"}

    def decode(self, value: dict[str, Any]) -> Any:
        """Turn the low-level DynamoDB value back into Python."""
        if self.encoding == "S":
            return value["S"]
        if self.encoding == "N":
            number = Decimal(value["N"])
            return int(number) if number == number.to_integral_value() else float(number)
        if self.encoding == "BOOL":
            return bool(value["BOOL"])
        return json.loads(value["S"])


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(PARTITION_KEY, "S", f"{SEGMENT_PATH}.stream_id"),
    Attribute(SORT_KEY, "N", f"{SEGMENT_PATH}.sequence"),
    Attribute("s3_uri", "S", f"{SEGMENT_PATH}.s3_uri"),
    Attribute("object_version", "S", f"{SEGMENT_PATH}.object_version"),
    Attribute("object_size", "N", f"{SEGMENT_PATH}.size"),
    Attribute("sequencer", "S", f"{SEGMENT_PATH}.sequencer"),
    Attribute("start_seconds", "N", f"{SEGMENT_PATH}.start_seconds"),
    Attribute("duration_seconds", "N", f"{SEGMENT_PATH}.duration_seconds"),
    Attribute("label", "S", f"{RESULT_PATH}.label"),
    Attribute("probability", "N", f"{RESULT_PATH}.probability"),
    Attribute("confident", "BOOL", f"{RESULT_PATH}.confident"),
    Attribute("top_k", "JSON", f"{RESULT_PATH}.top_k"),
    Attribute("clips", "JSON", f"{RESULT_PATH}.clips"),
    Attribute("frames", "JSON", f"{RESULT_PATH}.frames"),
    Attribute("video", "JSON", f"{RESULT_PATH}.segment"),
    Attribute("model", "JSON", f"{RESULT_PATH}.model"),
    Attribute("model_name", "S", f"{RESULT_PATH}.model.name"),
    Attribute("random_weights", "BOOL", f"{RESULT_PATH}.model.random_weights"),
    Attribute("timings_ms", "JSON", f"{RESULT_PATH}.timings_ms"),
    Attribute("created_at", "S", "$$.State.EnteredTime"),
    # The S3 event's time: when the segment was uploaded (the episodes' wall clock, less the duration).
    Attribute("uploaded_at", "S", "$.time"),
    Attribute("execution_arn", "S", "$$.Execution.Id"),
    Attribute(TTL_ATTRIBUTE, "N", f"{SEGMENT_PATH}.expires_at"),
)

#: Set later by the episodes Lambda (not by the workflow): the record arrived after its sequence was
#: declared lost, so the episodes do not use it (contracts.episodes).
LATE = Attribute("late", "BOOL", "")

_BY_NAME = {attribute.name: attribute for attribute in (*ATTRIBUTES, LATE)}

#: Write only if the segment has no record yet, or the record came from an older
#: upload of the key: other bytes (``object_version``) AND an earlier S3 ``sequencer``.
#: A repeated delivery of the same version fails the condition (a duplicate), and so
#: does an older upload that finishes after a newer one: it never replaces it.
CONDITION_EXPRESSION = (
    "attribute_not_exists(#pk) OR (#version <> :version AND (attribute_not_exists(#sequencer) OR #sequencer < :sequencer))"
)
CONDITION_NAMES = {"#pk": PARTITION_KEY, "#version": "object_version", "#sequencer": "sequencer"}


def put_item_parameters(table_name: str) -> dict[str, Any]:
    """The ``Parameters`` of the state machine's ``dynamodb:putItem`` task."""
    return {
        "TableName": table_name,
        "Item": {attribute.name: attribute.asl_value() for attribute in ATTRIBUTES},
        "ConditionExpression": CONDITION_EXPRESSION,
        "ExpressionAttributeNames": CONDITION_NAMES,
        "ExpressionAttributeValues": {
            ":version": {"S.$": f"{SEGMENT_PATH}.object_version"},
            ":sequencer": {"S.$": f"{SEGMENT_PATH}.sequencer"},
        },
    }


def decode_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A low-level DynamoDB item (as ``GetItem``/``Query`` return it) as plain Python."""
    decoded: dict[str, Any] = {}
    for name, value in item.items():
        attribute = _BY_NAME.get(name)
        decoded[name] = attribute.decode(value) if attribute else value
    return decoded


def key_attribute_types() -> dict[str, str]:
    return {PARTITION_KEY: "S", SORT_KEY: "N"}
