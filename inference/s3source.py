"""Fetching the segment from S3, inside limits and an allow-list of buckets.

``AWS_ENDPOINT_URL`` (if set) points the client at a local S3, as the local stack does.
"""

import os
import shutil
import tempfile
from typing import Dict, Optional, Sequence, Tuple

import boto3
from botocore.exceptions import ClientError

from contracts.s3keys import is_not_found, is_replaced, key_candidates, read_condition
from inference import errors


def parse_s3_uri(uri: str) -> Tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise errors.InferenceError(errors.INVALID_REQUEST, "s3_uri must look like s3://bucket/key.ts")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise errors.InferenceError(errors.INVALID_REQUEST, "s3_uri must name a bucket and a key")
    return bucket, key


def _replaced(uri: str) -> errors.InferenceError:
    return errors.InferenceError(errors.OBJECT_REPLACED, "{} was overwritten after it was validated".format(uri), 409)


class S3Source:
    def __init__(self, allowed_buckets: Sequence[str], max_bytes: int, client=None):
        self.allowed_buckets = tuple(b for b in allowed_buckets if b)
        self.max_bytes = max_bytes
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        return self._client

    def check_allowed(self, bucket: str) -> None:
        if self.allowed_buckets and bucket not in self.allowed_buckets:
            raise errors.InferenceError(
                errors.BUCKET_NOT_ALLOWED,
                "bucket {!r} is not one this endpoint reads; allowed: {}".format(bucket, ", ".join(self.allowed_buckets)),
                403,
            )

    def _head(self, bucket: str, key: str, uri: str, condition: Dict[str, str]) -> Tuple[str, dict]:
        """The key that exists (as given, or form-decoded: ``contracts.s3keys``) and its HEAD."""
        for candidate in key_candidates(key):
            try:
                return candidate, self.client.head_object(Bucket=bucket, Key=candidate, **condition)
            except ClientError as error:
                if is_replaced(error):
                    raise _replaced(uri)
                if not is_not_found(error):
                    raise
        raise errors.InferenceError(errors.OBJECT_NOT_FOUND, "{} does not exist".format(uri), 404)

    def download(
        self, uri: str, directory: Optional[str] = None, version_id: Optional[str] = None, etag: Optional[str] = None
    ) -> Tuple[str, int]:
        """Download to a temporary file; returns its path and size. The caller deletes it.

        With ``version_id`` exactly that version is read; with ``etag`` (and no version)
        only an object still holding those bytes (``IfMatch``): a key overwritten since
        the workflow validated it is refused (``object_replaced``, 409), never mixed in.
        """
        bucket, key = parse_s3_uri(uri)
        self.check_allowed(bucket)
        condition = read_condition(version_id, etag)
        key, head = self._head(bucket, key, uri, condition)
        size = int(head["ContentLength"])
        if size > self.max_bytes:
            raise errors.InferenceError(
                errors.SEGMENT_TOO_LARGE,
                "{} is {} bytes; the limit is {}".format(uri, size, self.max_bytes),
                413,
                size=size,
                limit=self.max_bytes,
            )
        # Always .ts: FFmpeg must not take a hint from the key's suffix (.m3u8, .sdp, .ffconcat ...).
        handle, path = tempfile.mkstemp(suffix=".ts", dir=directory)
        os.close(handle)
        try:
            if condition:
                # get_object: download_file's transfer manager does not pass IfMatch on.
                body = self.client.get_object(Bucket=bucket, Key=key, **condition)["Body"]
                with open(path, "wb") as handle:
                    shutil.copyfileobj(body, handle, 1024 * 1024)
            else:
                self.client.download_file(bucket, key, path)
        except ClientError as error:
            os.unlink(path)
            if is_replaced(error):
                raise _replaced(uri)
            raise
        except Exception:
            os.unlink(path)
            raise
        return path, size
