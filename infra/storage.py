"""Storage: the livestream bucket (segments arrive here) and the artifacts bucket (model, sample video)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.segments import stream_folder
from infra import policies


@dataclass
class StorageArgs:
    livestream_bucket_name: str
    artifacts_bucket_name: str
    stream_prefix: str
    segment_retention_days: int
    force_destroy: bool
    #: Episode snapshots and clips: their own prefix and a longer expiry than segments.
    evidence_prefix: str = "evidence"
    evidence_retention_days: int = 90


class Storage(pulumi.ComponentResource):
    livestream_bucket: aws.s3.Bucket
    artifacts_bucket: aws.s3.Bucket

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:storage:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.livestream_bucket = aws.s3.Bucket(
            f"{name}-livestream", bucket=args.livestream_bucket_name, force_destroy=args.force_destroy, opts=child
        )
        self.artifacts_bucket = aws.s3.Bucket(
            f"{name}-artifacts", bucket=args.artifacts_bucket_name, force_destroy=args.force_destroy, opts=child
        )
        for label, bucket in (("livestream", self.livestream_bucket), ("artifacts", self.artifacts_bucket)):
            self._harden(f"{name}-{label}", bucket)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-livestream-expiry",
            bucket=self.livestream_bucket.id,
            rules=[
                {
                    "id": "expire-segments",
                    "status": "Enabled",
                    "filter": {"prefix": stream_folder(args.stream_prefix)},
                    "expiration": {"days": args.segment_retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                },
                {
                    "id": "expire-evidence",
                    "status": "Enabled",
                    "filter": {"prefix": args.evidence_prefix.strip("/") + "/"},
                    "expiration": {"days": args.evidence_retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                },
            ],
            opts=child,
        )
        # Each object upload becomes an EventBridge "Object Created" event.
        self.notification = aws.s3.BucketNotification(
            f"{name}-livestream-events", bucket=self.livestream_bucket.id, eventbridge=True, opts=child
        )
        self.register_outputs(
            {"livestream_bucket": self.livestream_bucket.bucket, "artifacts_bucket": self.artifacts_bucket.bucket}
        )

    def _harden(self, name: str, bucket: aws.s3.Bucket) -> None:
        child = pulumi.ResourceOptions(parent=self)
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(policies.deny_insecure_transport(bucket.arn)),
            # The public-access block must exist first, or S3 may refuse the policy.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
