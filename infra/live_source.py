"""Live source: a MediaLive channel that loops the sample video and writes 10-second HLS segments to S3.

Started and stopped by hand (it bills per hour while running): see the README.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.segments import stream_folder
from infra import policies

DESTINATION_ID = "livestream"
VIDEO_DESCRIPTION = "video_720p"
KEEP_SEGMENTS = 21  # as the seed: MediaLive keeps the latest 21 segments in the playlist


@dataclass
class LiveSourceArgs:
    role_name: str
    input_name: str
    channel_name: str
    video_path: str
    artifacts_bucket: aws.s3.Bucket
    livestream_bucket: aws.s3.Bucket
    stream_prefix: str
    stream_id: str
    segment_seconds: int
    account_id: pulumi.Input[str]
    region: str
    partition: pulumi.Input[str]


def hls_destination_url(bucket: str, stream_prefix: str, stream_id: str) -> str:
    """MediaLive appends the output's name modifier and ``_<8 digits>.ts`` to this base."""
    return f"s3ssl://{bucket}/{stream_folder(stream_prefix, stream_id)}channel"


class LiveSource(pulumi.ComponentResource):
    def __init__(self, name: str, args: LiveSourceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("activity-detection:live:LiveSource", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.video = aws.s3.BucketObjectv2(
            f"{name}-video",
            bucket=args.artifacts_bucket.id,
            key="videos/source.mp4",
            source=pulumi.FileAsset(args.video_path),
            content_type="video/mp4",
            opts=child,
        )
        stream_objects = pulumi.Output.concat(
            args.livestream_bucket.arn, "/", stream_folder(args.stream_prefix, args.stream_id), "*"
        )
        media_live_logs = pulumi.Output.concat(
            "arn:", args.partition, ":logs:", args.region, ":", args.account_id, ":log-group:ElementalMediaLive:*"
        )
        # S3 actions as MediaLive's trusted-entity requirements list them (see infra.policies.MEDIALIVE_S3_*).
        self.role, self.role_policy = policies.service_role(
            f"{name}-role", args.role_name, "medialive.amazonaws.com", args.account_id, self,
            policies.document(
                policies.statement(
                    "ReadSourceVideo", policies.MEDIALIVE_S3_READ, [pulumi.Output.concat(args.artifacts_bucket.arn, "/videos/*")]
                ),
                policies.list_under_prefix("ListSourceVideos", args.artifacts_bucket.arn, "videos"),
                # Writes segments and the playlist, and deletes segments past KEEP_SEGMENTS.
                policies.statement("WriteSegments", policies.MEDIALIVE_S3_WRITE, [stream_objects]),
                policies.list_under_prefix(
                    "ListSegments", args.livestream_bucket.arn, f"{args.stream_prefix.strip('/')}/{args.stream_id}"
                ),
                policies.statement(
                    "WriteChannelLogs",
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [media_live_logs],
                ),
            ),
        )
        self.input = aws.medialive.Input(
            f"{name}-input",
            name=args.input_name,
            type="MP4_FILE",
            sources=[{"url": pulumi.Output.concat("s3ssl://", self.video.bucket, "/", self.video.key)}],
            role_arn=self.role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.channel = aws.medialive.Channel(
            f"{name}-channel",
            name=args.channel_name,
            channel_class="SINGLE_PIPELINE",
            role_arn=self.role.arn,
            input_specification={"codec": "AVC", "input_resolution": "HD", "maximum_bitrate": "MAX_10_MBPS"},
            input_attachments=[
                {
                    "input_attachment_name": "sample-video",
                    "input_id": self.input.id,
                    # Loop the file so the channel behaves like a never-ending live source.
                    "input_settings": {"source_end_behavior": "LOOP"},
                }
            ],
            destinations=[
                {
                    "id": DESTINATION_ID,
                    "settings": [
                        {
                            "url": args.livestream_bucket.bucket.apply(
                                lambda bucket: hls_destination_url(bucket, args.stream_prefix, args.stream_id)
                            )
                        }
                    ],
                }
            ],
            encoder_settings={
                "timecode_config": {"source": "SYSTEMCLOCK"},
                "audio_descriptions": [],
                "video_descriptions": [
                    {
                        "name": VIDEO_DESCRIPTION,
                        "width": 1280,
                        "height": 720,
                        "codec_settings": {
                            "h264_settings": {
                                "rate_control_mode": "CBR",
                                "bitrate": 3_000_000,
                                "framerate_control": "SPECIFIED",
                                "framerate_numerator": 25,
                                "framerate_denominator": 1,
                                "gop_size": 2,
                                "gop_size_units": "SECONDS",
                                "par_control": "SPECIFIED",
                                "par_numerator": 1,
                                "par_denominator": 1,
                                "scan_type": "PROGRESSIVE",
                            }
                        },
                    }
                ],
                "output_groups": [
                    {
                        "name": "hls-to-s3",
                        "output_group_settings": {
                            "hls_group_settings": {
                                "destination": {"destination_ref_id": DESTINATION_ID},
                                "segment_length": args.segment_seconds,
                                "keep_segments": KEEP_SEGMENTS,
                                "ts_file_mode": "SEGMENTED_FILES",
                                "mode": "LIVE",
                                "manifest_duration_format": "INTEGER",
                                # EXT-X-PROGRAM-DATE-TIME on every segment, from the UTC clock: the
                                # segments' wall clock (the validation Lambda reads it from the playlist).
                                "program_date_time": "INCLUDE",
                                "program_date_time_clock": "SYSTEM_CLOCK",
                                "program_date_time_period": args.segment_seconds,
                                # No hls_cdn_settings/canned_acl: MediaLive's S3CannedAcl enum has no
                                # "NONE"; sending no ACL is leaving the field out (the buckets enforce
                                # bucket-owner ownership, which refuses ACLs anyway).
                            }
                        },
                        "outputs": [
                            {
                                "output_name": "720p",
                                "video_description_name": VIDEO_DESCRIPTION,
                                "output_settings": {
                                    "hls_output_settings": {
                                        "name_modifier": "_720p",
                                        "hls_settings": {"standard_hls_settings": {"m3u8_settings": {}}},
                                    }
                                },
                            }
                        ],
                    }
                ],
            },
            # Created stopped: starting it is a deliberate (billed) act.
            start_channel=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.register_outputs({"channel_id": self.channel.channel_id})
