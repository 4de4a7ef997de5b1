"""ValidateSegment: the first state of the workflow.

Input: the EventBridge ``Object Created`` event for one object in the
livestream bucket. Output: the normalised :class:`contracts.segments.Segment`.
A rejected object raises :class:`SegmentRejected`, reported under the name
``SegmentRejected.<REASON>``; the state machine routes it to the dead-letter queue.

Configuration: :class:`contracts.environment.LambdaEnvironment`, read once at
start (a missing variable stops the function with a message naming it).
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError

from contracts import mpegts
from contracts.environment import LambdaEnvironment
from contracts.s3keys import is_not_found, is_replaced, key_candidates, read_condition
from contracts.segments import RejectionReason, Segment, normalise_sequencer, playlist_key, stream_clock, wall_clock
from lambdas.validate_segment.playlist import MAX_PLAYLIST_BYTES, program_date_time
from lambdas.validate_segment.rules import (
    TS_READ_BYTES,
    SegmentRejected,
    check_mpeg_ts,
    check_size,
    parse_key,
)

CONFIG = LambdaEnvironment.from_environ()
logger = Logger(service="validate-segment")
_s3 = None


def _client():
    # One client per container; AWS_ENDPOINT_URL (honoured by boto3) points it at a local S3.
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def _head(bucket: str, key: str, condition: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """HEAD the object, trying the key as sent and, if absent, URL-decoded.

    S3's classic notifications URL-encode keys (``a b.ts`` arrives as ``a+b.ts``);
    EventBridge events carry them as stored. Trying both finds the object either way.
    """
    for candidate in key_candidates(key):
        try:
            return candidate, _client().head_object(Bucket=bucket, Key=candidate, **condition)
        except ClientError as error:
            if is_replaced(error):
                raise SegmentRejected(
                    RejectionReason.OBJECT_REPLACED,
                    f"s3://{bucket}/{candidate} was overwritten before this upload was processed "
                    "(the newer upload has its own execution)",
                )
            if not is_not_found(error):
                raise
    raise SegmentRejected(RejectionReason.OBJECT_MISSING, f"s3://{bucket}/{key} no longer exists")


def _playlist_date(bucket: str, key: str, sequence: int):
    """The segment's EXT-X-PROGRAM-DATE-TIME from the playlist beside it, or None (see the playlist module)."""
    playlist = playlist_key(key)
    try:
        reply = _client().get_object(Bucket=bucket, Key=playlist)
        if int(reply["ContentLength"]) > MAX_PLAYLIST_BYTES:
            reply["Body"].close()
            return None
        text = reply["Body"].read().decode("utf-8", errors="replace")
    except ClientError as error:  # no playlist (or not readable): the upload time applies
        logger.debug("no playlist", extra={"playlist": playlist, "code": error.response["Error"]["Code"]})
        return None
    try:
        return program_date_time(text, key.rsplit("/", 1)[-1], sequence)
    except Exception as error:  # a malformed playlist must not reject a good segment
        logger.warning("playlist not readable", extra={"playlist": playlist, "error": str(error)})
        return None


def validate(event: dict[str, Any]) -> Segment:
    try:
        parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
    except ValidationError as error:
        raise SegmentRejected(RejectionReason.MALFORMED_EVENT, f"not an S3 Object Created event: {error.errors()[:3]}")
    if parsed.detail_type != "Object Created" or parsed.source != "aws.s3":
        raise SegmentRejected(
            RejectionReason.MALFORMED_EVENT, f"expected aws.s3 'Object Created', got {parsed.source} {parsed.detail_type!r}"
        )
    bucket = parsed.detail.bucket.name
    stream_prefix = CONFIG.stream_prefix
    max_bytes = CONFIG.max_segment_bytes
    segment_seconds = CONFIG.segment_seconds
    ttl_days = CONFIG.result_ttl_days

    key_names = parse_key(parsed.detail.object.key, stream_prefix)
    # Read exactly the bytes this event announced, never a later upload of the same key.
    condition = read_condition(parsed.detail.object.version_id, parsed.detail.object.etag)
    key, head = _head(bucket, parsed.detail.object.key, condition)
    size = int(head["ContentLength"])
    check_size(size, max_bytes)
    try:
        header = _client().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{TS_READ_BYTES - 1}", **condition)
    except ClientError as error:
        if not is_replaced(error):
            raise
        raise SegmentRejected(RejectionReason.OBJECT_REPLACED, f"s3://{bucket}/{key} was overwritten while it was checked")
    first_bytes = header["Body"].read()
    check_mpeg_ts(first_bytes)
    start_seconds, clock = stream_clock(key_names.sequence, segment_seconds, mpegts.first_video_pts(first_bytes))
    wall_time, wall_source = wall_clock(
        _playlist_date(bucket, key, key_names.sequence), parsed.time, segment_seconds
    )

    etag = (parsed.detail.object.etag or head.get("ETag", "")).strip('"')
    version_id = parsed.detail.object.version_id or head.get("VersionId")
    if version_id in (None, "", "null"):
        version_id = ""
        object_version = f"etag:{etag}"
    else:
        object_version = version_id
    return Segment(
        stream_id=key_names.stream_id,
        sequence=key_names.sequence,
        bucket=bucket,
        key=key,
        s3_uri=f"s3://{bucket}/{key}",
        size=size,
        etag=etag,
        object_version=object_version,
        version_id=version_id,
        sequencer=normalise_sequencer(parsed.detail.object.sequencer),
        start_seconds=start_seconds,
        duration_seconds=segment_seconds,
        stream_clock=clock,
        wall_time=wall_time,
        wall_clock=wall_source,
        expires_at=int(time.time() + ttl_days * 86400),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        segment = validate(event)
    except SegmentRejected as rejected:
        logger.warning("segment rejected", extra={"reason": rejected.reason.value, "detail": rejected.detail})
        raise
    logger.info("segment accepted", extra={"s3_uri": segment.s3_uri, "sequence": segment.sequence})
    return segment.to_dict()
