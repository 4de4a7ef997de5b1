"""Reading episodes: a stream's episodes by time, a label's across streams, presigned evidence URLs.

The typed reader for the CLI (``devstack events``) and the console; items are
decoded by :func:`contracts.episodes.decode_episode`, the schema's one decoder.
Works against the local stack or a deployment (``info`` as in ``devstack.observe``).
"""

from __future__ import annotations

from typing import Any

from contracts import episodes as ep
from devstack import observe


def _query(info: dict[str, Any], **kwargs) -> list[dict[str, Any]]:
    pages = observe.clients(info)["dynamodb"].get_paginator("query").paginate(
        TableName=info["episodes_table_name"], **kwargs
    )
    return [item for page in pages for item in page["Items"]]


def for_stream(info: dict[str, Any], stream_id: str) -> list[ep.Episode]:
    """A stream's episodes in time order (first segment, then label)."""
    items = _query(
        info,
        KeyConditionExpression="#pk = :stream AND #sk BETWEEN :low AND :high",
        ExpressionAttributeNames={"#pk": ep.PARTITION_KEY, "#sk": ep.SORT_KEY},
        # Episode keys start with a zero-padded sequence; state and outbox items start with '#'.
        ExpressionAttributeValues={":stream": {"S": stream_id}, ":low": {"S": "0"}, ":high": {"S": "9~"}},
    )
    return [ep.decode_episode(item) for item in items if ep.is_episode_item(item)]


def for_label(info: dict[str, Any], label: str, since: str | None = None) -> list[ep.Episode]:
    """A label's episodes across streams, by wall-clock start (the ``by-label`` index)."""
    names = {"#label": ep.LABEL_INDEX_KEYS[0]}
    values: dict[str, Any] = {":label": {"S": label}}
    condition = "#label = :label"
    if since:
        names["#start"] = ep.LABEL_INDEX_KEYS[1]
        values[":since"] = {"S": since}
        condition += " AND #start >= :since"
    items = _query(info, IndexName=ep.LABEL_INDEX, KeyConditionExpression=condition,
                   ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    return [ep.decode_episode(item) for item in items]


def presign(info: dict[str, Any], uri: str | None, expires_s: int = 3600) -> str | None:
    """An HTTPS URL for an ``s3://`` evidence location (valid ``expires_s`` seconds)."""
    if not uri:
        return None
    bucket, _, key = uri[len("s3://"):].partition("/")
    return observe.clients(info)["s3"].generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s)


def as_row(episode: ep.Episode, info: dict[str, Any] | None = None, urls: bool = False) -> dict[str, Any]:
    """One JSON object per episode, as ``devstack events --json`` prints it."""
    row = episode.to_json()
    if urls and info is not None:
        row["snapshot_url"] = presign(info, episode.snapshot_uri)
        row["clip_url"] = presign(info, episode.clip_uri)
    return row


def format_table(episodes: list[ep.Episode]) -> str:
    lines = [f"{'label':<22} {'status':<7} {'start':>9} {'end':>9} {'segments':>8} {'peak':>6}  {'reason':<8} episode"]
    for episode in episodes:
        end = "-" if episode.end_seconds is None else f"{episode.end_seconds:.1f}"
        lines.append(
            f"{episode.label:<22} {episode.status:<7} {episode.start_seconds:>9.1f} {end:>9} {episode.segment_count:>8} "
            f"{episode.peak_probability:>6.3f}  {episode.close_reason or '':<8} {episode.episode_id}"
        )
    if len(lines) == 1:
        lines.append("(no episodes yet)")
    return "\n".join(lines)
