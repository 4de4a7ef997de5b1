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

from contracts.workflow import result, segment

PARTITION_KEY = "stream_id"
SORT_KEY = "segment_seq"
TTL_ATTRIBUTE = "expires_at"

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
    Attribute(PARTITION_KEY, "S", segment("stream_id")),
    Attribute(SORT_KEY, "N", segment("sequence")),
    Attribute("s3_uri", "S", segment("s3_uri")),
    Attribute("object_version", "S", segment("object_version")),
    Attribute("object_size", "N", segment("size")),
    Attribute("sequencer", "S", segment("sequencer")),
    Attribute("start_seconds", "N", segment("start_seconds")),
    Attribute("duration_seconds", "N", segment("duration_seconds")),
    # Which clock gave start_seconds (the first PTS, or sequence x length), the wall-clock start and its source.
    Attribute("stream_clock", "S", segment("stream_clock")),
    Attribute("wall_time", "S", segment("wall_time")),
    Attribute("wall_clock", "S", segment("wall_clock")),
    Attribute("label", "S", result("label")),
    Attribute("probability", "N", result("probability")),
    Attribute("confident", "BOOL", result("confident")),
    Attribute("top_k", "JSON", result("top_k")),
    Attribute("clips", "JSON", result("clips")),
    Attribute("frames", "JSON", result("frames")),
    Attribute("video", "JSON", result("video")),
    Attribute("model", "JSON", result("model")),
    Attribute("model_name", "S", result("model.name")),
    Attribute("random_weights", "BOOL", result("model.random_weights")),
    Attribute("timings_ms", "JSON", result("timings_ms")),
    Attribute("created_at", "S", "$$.State.EnteredTime"),
    # The S3 event's time: when the segment was uploaded.
    Attribute("uploaded_at", "S", "$.time"),
    Attribute("execution_arn", "S", "$$.Execution.Id"),
    Attribute(TTL_ATTRIBUTE, "N", segment("expires_at")),
)

#: Set later by the episodes Lambda (not by the workflow): the record arrived after its sequence was
#: declared lost, so the episodes do not use it (contracts.episodes).
LATE = Attribute("late", "BOOL", "")

_BY_NAME = {attribute.name: attribute for attribute in (*ATTRIBUTES, LATE)}
#: The table's key attributes, as the table declares them (their encodings are DynamoDB's S/N).
KEY_ATTRIBUTES = (_BY_NAME[PARTITION_KEY], _BY_NAME[SORT_KEY])

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
            ":version": {"S.$": segment("object_version")},
            ":sequencer": {"S.$": segment("sequencer")},
        },
    }


def decode_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A low-level DynamoDB item (as ``GetItem``/``Query`` return it) as plain Python."""
    decoded: dict[str, Any] = {}
    for name, value in item.items():
        attribute = _BY_NAME.get(name)
        decoded[name] = attribute.decode(value) if attribute else value
    return decoded
