"""DynamoDB side of the episodes: read a stream's state and records, commit a fold, the outbox.

A fold is committed in one ``TransactWriteItems``: the stream's state item
(conditional on the version that was read), the episodes it changed, and one
outbox item per event to send. Two executions folding the same stream at once
cannot both commit: the loser reads again and folds what is left. Sending
happens after the commit, from the outbox: an item is claimed (conditional
update), its event sent, then the item deleted; a claim older than
:data:`CLAIM_SECONDS` is taken over by the sweep (at-least-once under faults).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from contracts import episodes as ep
from contracts import records

#: A claimed outbox item not deleted after this long is claimed again.
CLAIM_SECONDS = 120
#: TransactWriteItems takes at most 100 items; keep room for the state item.
MAX_TRANSACTION_ITEMS = 99
#: Episode fields the fold owns (evidence fields are written separately and never overwritten by a fold).
_EPISODE_FIELDS = (
    "episode_id", "label", "status", "start_seq", "last_seq", "start_seconds", "last_seen_seconds",
    "peak_probability", "peak_seq", "peak_seconds", "segment_count", "start_time", "last_seen_time",
    "close_reason", "segments", "end_seconds", "end_time",
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_low(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def from_low(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class Conflict(Exception):
    """Another execution committed a fold of this stream first."""


@dataclass
class Store:
    dynamodb: Any
    episodes_table: str
    records_table: str

    def load_carry(self, stream_id: str) -> ep.Carry:
        reply = self.dynamodb.get_item(
            TableName=self.episodes_table,
            Key=to_low({ep.PARTITION_KEY: stream_id, ep.SORT_KEY: ep.STATE_KEY}),
            ConsistentRead=True,
        )
        return ep.Carry.from_item(from_low(reply["Item"]) if "Item" in reply else None, stream_id)

    def records_after(self, stream_id: str, after_seq: int) -> list[dict[str, Any]]:
        """The stream's records after ``after_seq`` (strongly consistent), decoded."""
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.records_table,
            KeyConditionExpression="#pk = :stream AND #sk > :after",
            ExpressionAttributeNames={"#pk": records.PARTITION_KEY, "#sk": records.SORT_KEY},
            ExpressionAttributeValues={":stream": {"S": stream_id}, ":after": {"N": str(after_seq)}},
            ConsistentRead=True,
        )
        return [records.decode_item(item) for page in pages for item in page["Items"]]

    def record(self, stream_id: str, seq: int) -> dict[str, Any] | None:
        reply = self.dynamodb.get_item(
            TableName=self.records_table,
            Key={records.PARTITION_KEY: {"S": stream_id}, records.SORT_KEY: {"N": str(seq)}},
            ConsistentRead=True,
        )
        return records.decode_item(reply["Item"]) if "Item" in reply else None

    def commit(self, before: ep.Carry, result: ep.Advance, outbox: Iterable[dict[str, Any]]) -> list[str]:
        """Write the fold atomically; returns the outbox keys written. Raises :class:`Conflict`."""
        carry = result.carry
        carry.version = before.version + 1
        state = carry.to_item()
        condition = (
            {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": ep.PARTITION_KEY}}
            if before.version == 0
            else {
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":version": {"N": str(before.version)}},
            }
        )
        actions: list[dict[str, Any]] = [{"Put": {"TableName": self.episodes_table, "Item": to_low(state), **condition}}]
        for episode in result.changed.values():
            actions.append({"Update": self._episode_update(episode)})
        keys = []
        for entry in outbox:
            key = ep.OUTBOX_PREFIX + entry["event_id"]
            keys.append(key)
            item = {ep.PARTITION_KEY: carry.stream_id, ep.SORT_KEY: key, "entry": json.dumps(entry), "created": int(time.time())}
            actions.append({"Put": {"TableName": self.episodes_table, "Item": to_low(item)}})
        if len(actions) > MAX_TRANSACTION_ITEMS + 1:
            raise ValueError(f"a fold of {len(actions)} writes does not fit one transaction; fold fewer segments")
        try:
            self.dynamodb.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                raise Conflict(str(error)) from error
            raise
        return keys

    def _episode_update(self, episode: ep.Episode) -> dict[str, Any]:
        item = episode.to_item()
        names, values, sets, removes = {}, {}, [], []
        for i, name in enumerate(_EPISODE_FIELDS):
            names[f"#f{i}"] = name
            if name in item:
                values[f":v{i}"] = _serializer.serialize(item[name])
                sets.append(f"#f{i} = :v{i}")
            else:
                removes.append(f"#f{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "TableName": self.episodes_table,
            "Key": to_low({ep.PARTITION_KEY: episode.stream_id, ep.SORT_KEY: episode.key}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def mark_late(self, stream_id: str, seq: int) -> None:
        """Say on the record that it came after its sequence was declared lost (episodes ignore it)."""
        self.dynamodb.update_item(
            TableName=self.records_table,
            Key={records.PARTITION_KEY: {"S": stream_id}, records.SORT_KEY: {"N": str(seq)}},
            UpdateExpression="SET #late = :true",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#late": records.LATE.name, "#pk": records.PARTITION_KEY},
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    def set_evidence(self, stream_id: str, episode_key: str, snapshot_uri: str | None, clip_uri: str | None) -> None:
        sets, values = [], {}
        if snapshot_uri:
            sets.append("snapshot_uri = :snapshot")
            values[":snapshot"] = {"S": snapshot_uri}
        if clip_uri:
            sets.append("clip_uri = :clip")
            values[":clip"] = {"S": clip_uri}
        if sets:
            self.dynamodb.update_item(
                TableName=self.episodes_table,
                Key=to_low({ep.PARTITION_KEY: stream_id, ep.SORT_KEY: episode_key}),
                UpdateExpression="SET " + ", ".join(sets),
                ExpressionAttributeValues=values,
            )

    # --- outbox -----------------------------------------------------------------------------------

    def claim(self, stream_id: str, key: str, now: float) -> dict[str, Any] | None:
        """Take an outbox item for sending; ``None`` when it is gone or someone else holds a fresh claim."""
        try:
            reply = self.dynamodb.update_item(
                TableName=self.episodes_table,
                Key=to_low({ep.PARTITION_KEY: stream_id, ep.SORT_KEY: key}),
                UpdateExpression="SET claimed_at = :now, claim = :token",
                ConditionExpression="attribute_exists(#pk) AND (attribute_not_exists(claimed_at) OR claimed_at < :stale)",
                ExpressionAttributeNames={"#pk": ep.PARTITION_KEY},
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":stale": {"N": str(int(now - CLAIM_SECONDS))},
                    ":token": {"S": str(uuid.uuid4())},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return json.loads(from_low(reply["Attributes"])["entry"])

    def done(self, stream_id: str, key: str) -> None:
        self.dynamodb.delete_item(TableName=self.episodes_table, Key=to_low({ep.PARTITION_KEY: stream_id, ep.SORT_KEY: key}))

    def outbox_keys(self, stream_id: str) -> list[str]:
        reply = self.dynamodb.query(
            TableName=self.episodes_table,
            KeyConditionExpression="#pk = :stream AND begins_with(#sk, :outbox)",
            ExpressionAttributeNames={"#pk": ep.PARTITION_KEY, "#sk": ep.SORT_KEY},
            ExpressionAttributeValues={":stream": {"S": stream_id}, ":outbox": {"S": ep.OUTBOX_PREFIX}},
            ProjectionExpression="#sk",
            ConsistentRead=True,
        )
        return [item[ep.SORT_KEY]["S"] for item in reply["Items"]]

    def stream_ids(self) -> list[str]:
        """Every stream with a state item (the sweep's work list)."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.episodes_table,
            FilterExpression="#sk = :state",
            ExpressionAttributeNames={"#sk": ep.SORT_KEY, "#pk": ep.PARTITION_KEY},
            ExpressionAttributeValues={":state": {"S": ep.STATE_KEY}},
            ProjectionExpression="#pk",
        )
        return sorted(item[ep.PARTITION_KEY]["S"] for page in pages for item in page["Items"])
