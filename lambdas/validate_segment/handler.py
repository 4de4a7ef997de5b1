"""ValidateSegment: the first state of the workflow.

Input: the EventBridge ``Object Created`` event for one object in the
livestream bucket. Output: the normalised :class:`contracts.segments.Segment`.
A rejected object raises :class:`SegmentRejected`, which the state machine
routes to the dead-letter queue with the reason code.

Configuration (environment variables, set by the Pulumi program):
``STREAM_PREFIX``, ``MAX_SEGMENT_BYTES``, ``SEGMENT_SECONDS``, ``RESULT_TTL_DAYS``.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError

from contracts.segments import RejectionReason, Segment, normalise_sequencer
from lambdas.validate_segment.rules import (
    TS_HEADER_BYTES,
    SegmentRejected,
    check_mpeg_ts,
    check_size,
    parse_key,
)

logger = Logger(service="validate-segment")
_s3 = None


def _client():
    # One client per container; AWS_ENDPOINT_URL (honoured by boto3) points it at a local S3.
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def read_condition(version_id: str | None, etag: str | None) -> dict[str, str]:
    """The GET/HEAD arguments that read exactly the uploaded bytes the event names.

    A version id names them in a versioned bucket; without one, ``IfMatch`` on the
    event's ETag reads the object only while it still holds those bytes.
    """
    if version_id and version_id != "null":
        return {"VersionId": version_id}
    return {"IfMatch": f'"{etag}"'} if etag else {}


def _head(bucket: str, key: str, condition: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """HEAD the object, trying the key as sent and, if absent, URL-decoded.

    S3's classic notifications URL-encode keys (``a b.ts`` arrives as ``a+b.ts``);
    EventBridge events carry them as stored. Trying both finds the object either way.
    """
    candidates = [key] + ([unquote_plus(key)] if unquote_plus(key) != key else [])
    for candidate in candidates:
        try:
            return candidate, _client().head_object(Bucket=bucket, Key=candidate, **condition)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("412", "PreconditionFailed"):
                raise SegmentRejected(
                    RejectionReason.OBJECT_REPLACED,
                    f"s3://{bucket}/{candidate} was overwritten before this upload was processed "
                    "(the newer upload has its own execution)",
                )
            if code not in ("404", "NoSuchKey", "NotFound", "NoSuchVersion", "400"):
                raise
    raise SegmentRejected(RejectionReason.OBJECT_MISSING, f"s3://{bucket}/{key} no longer exists")


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
    stream_prefix = os.environ.get("STREAM_PREFIX", "live")
    max_bytes = int(os.environ.get("MAX_SEGMENT_BYTES", str(64 * 1024 * 1024)))
    segment_seconds = float(os.environ.get("SEGMENT_SECONDS", "10"))
    ttl_days = float(os.environ.get("RESULT_TTL_DAYS", "30"))

    key_names = parse_key(parsed.detail.object.key, stream_prefix)
    # Read exactly the bytes this event announced, never a later upload of the same key.
    condition = read_condition(parsed.detail.object.version_id, (parsed.detail.object.etag or "").strip('"'))
    key, head = _head(bucket, parsed.detail.object.key, condition)
    size = int(head["ContentLength"])
    check_size(size, max_bytes)
    try:
        header = _client().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{TS_HEADER_BYTES - 1}", **condition)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("412", "PreconditionFailed"):
            raise
        raise SegmentRejected(RejectionReason.OBJECT_REPLACED, f"s3://{bucket}/{key} was overwritten while it was checked")
    check_mpeg_ts(header["Body"].read())

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
        start_seconds=key_names.sequence * segment_seconds,
        duration_seconds=segment_seconds,
        expires_at=int(time.time() + ttl_days * 86400),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        segment = validate(event)
    except SegmentRejected as rejected:
        logger.warning("segment rejected", extra={"reason": rejected.reason.value, "detail": str(rejected)})
        raise
    logger.info("segment accepted", extra={"s3_uri": segment.s3_uri, "sequence": segment.sequence})
    return segment.to_dict()
