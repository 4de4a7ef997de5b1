"""The validation Lambda's handler against moto's S3, with EventBridge events from tests/events/."""

import copy
import datetime
import importlib
import sys

import boto3
import pytest
from moto import mock_aws

from contracts.environment import LambdaEnvironment, MissingEnvironment
from contracts.segments import RejectionReason, Segment
from lambdas.validate_segment.rules import SegmentRejected, rejection_class
from tests.conftest import load_event

BUCKET = "livestream-bucket"


class Context:
    function_name = "validate"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:validate"
    aws_request_id = "req"


ENVIRONMENT = LambdaEnvironment(stream_prefix="live", max_segment_bytes=8 * 1024 * 1024, segment_seconds=10,
                                result_ttl_days=30)
HANDLER = "lambdas.validate_segment.handler"


def fresh_handler():
    """Import the handler as a new container would (it reads its environment at start)."""
    sys.modules.pop(HANDLER, None)
    return importlib.import_module(HANDLER)


@pytest.fixture
def validate(monkeypatch):
    for name, value in ENVIRONMENT.to_environ().items():
        monkeypatch.setenv(name, value)
    yield fresh_handler()
    sys.modules.pop(HANDLER, None)


def test_a_missing_variable_stops_the_function_at_start(monkeypatch):
    for name, value in ENVIRONMENT.to_environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SEGMENT_SECONDS")
    try:
        with pytest.raises(MissingEnvironment, match="SEGMENT_SECONDS"):
            fresh_handler()
    finally:
        sys.modules.pop(HANDLER, None)


@pytest.fixture
def s3(monkeypatch, validate):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        validate._s3 = None
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
    validate._s3 = None


def event_for(key: str, s3=None, stored: str | None = None) -> dict:
    """The fixture event for ``key``, with the ETag of the bytes stored there (as S3 would send)."""
    event = copy.deepcopy(load_event("s3_object_created.json"))
    event["detail"]["object"]["key"] = key
    if s3 is not None:
        try:
            event["detail"]["object"]["etag"] = s3.head_object(Bucket=BUCKET, Key=stored or key)["ETag"].strip('"')
        except s3.exceptions.ClientError:
            pass  # nothing stored: the event outlived its object
    return event


def test_accepts_a_real_segment(s3, validate, segments):
    s3.upload_file(segments["bikes"][0], BUCKET, "live/cam-1/segment_00042.ts")
    event = event_for("live/cam-1/segment_00042.ts", s3)
    result = validate.handler(event, Context())
    segment = Segment(**result)
    assert (segment.stream_id, segment.sequence, segment.start_seconds) == ("cam-1", 42, 420.0)
    assert segment.s3_uri == f"s3://{BUCKET}/live/cam-1/segment_00042.ts"
    assert segment.object_version == "etag:" + event["detail"]["object"]["etag"]  # from the event
    assert segment.version_id == "" and segment.sequencer.startswith("00617F08299329D189")
    assert segment.expires_at > 0


@pytest.mark.parametrize("stored,sent", [("live/cam 1/seg 5.ts", "live/cam+1/seg+5.ts"), ("live/café/séq_5.ts", "live/café/séq_5.ts")])
def test_finds_objects_whatever_the_key_encoding(s3, validate, segments, stored, sent):
    s3.upload_file(segments["bikes"][0], BUCKET, stored)
    assert validate.handler(event_for(sent, s3, stored), Context())["key"] == stored


@pytest.mark.parametrize(
    "key,body,reason",
    [
        ("live/cam/segment_00001.ts", b"\x00" * 5000, "NOT_MPEG_TS"),
        ("live/cam/segment_00002.ts", b"", "TOO_SMALL"),
        ("live/cam/segment_00003.ts", None, "OBJECT_MISSING"),
    ],
)
def test_rejections_name_their_reason(s3, validate, key, body, reason):
    if body is not None:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    with pytest.raises(SegmentRejected) as rejected:
        validate.handler(event_for(key, s3), Context())
    assert rejected.value.reason.value == reason


def test_reads_only_the_bytes_the_event_announced(s3, validate, segments):
    key = "live/cam/segment_00007.ts"
    s3.upload_file(segments["bikes"][0], BUCKET, key)
    first = event_for(key, s3)
    s3.upload_file(segments["bikes_720p"][0], BUCKET, key)  # overwritten before the first event is handled
    with pytest.raises(SegmentRejected) as rejected:
        validate.handler(first, Context())
    assert rejected.value.reason.value == "OBJECT_REPLACED"
    second = validate.handler(event_for(key, s3), Context())
    assert second["size"] == s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]


def test_malformed_and_foreign_events_are_rejected(s3, validate):
    with pytest.raises(rejection_class(RejectionReason.MALFORMED_EVENT)):
        validate.handler({"hello": "world"}, Context())
    with pytest.raises(rejection_class(RejectionReason.MALFORMED_EVENT)):
        validate.handler(load_event("s3_object_deleted.json"), Context())


@pytest.fixture(scope="module")
def dated_stream(tmp_path_factory):
    """Three 2-second red HLS segments 50..52 from ffmpeg, starting at PTS 100.5 s (no mux delay), and their
    playlist dated with EXT-X-PROGRAM-DATE-TIME, as MediaLive writes it."""
    import os
    import subprocess

    from videos.samples import hls_command

    out = tmp_path_factory.mktemp("dated")
    command = hls_command(os.devnull, str(out), name="segment_", segment_seconds=2, gop_frames=25,
                          playlist="segment.m3u8", program_date_time=True)
    at = command.index("-i")
    command[at:at + 2] = ["-f", "lavfi", "-i", "color=c=red:s=64x48:r=25:d=6"]
    hls = command.index("hls") - 1
    command[hls:hls] = ["-output_ts_offset", "100.5", "-muxdelay", "0", "-muxpreload", "0", "-start_number", "50"]
    subprocess.run(command, check=True)
    return out


def test_time_from_the_first_pts_and_the_playlist(s3, monkeypatch, dated_stream):
    """Segments 50..52 of 2 s start at PTS 100.5, 102.5, 104.5: the stream clock is the PTS, not 100, 102, 104;
    the wall clock is the playlist's date for each (a listed one, and the next one not listed yet)."""
    import m3u8

    from contracts import mpegts
    from contracts.segments import CLOCK_PTS, WALL_PROGRAM_DATE_TIME, WALL_UPLOAD_TIME

    monkeypatch.setenv("SEGMENT_SECONDS", "2")
    validate = fresh_handler()
    names = sorted(p.name for p in dated_stream.glob("*.ts"))
    assert names[0] == "segment_00050.ts"
    for name in names:
        s3.upload_file(str(dated_stream / name), BUCKET, f"live/cam/{name}")
    listed = m3u8.load(str(dated_stream / "segment.m3u8"))
    # The playlist as the source has it when the last segment's event arrives: not listing it yet.
    partial = (dated_stream / "segment.m3u8").read_text().split(names[-1])[0].rsplit("#EXTINF", 1)[0]
    s3.put_object(Bucket=BUCKET, Key="live/cam/segment.m3u8", Body=partial.encode())

    for index, name in enumerate(names):
        segment = Segment(**validate.handler(event_for(f"live/cam/{name}", s3), Context()))
        assert mpegts.first_video_pts((dated_stream / name).read_bytes()) == (100.5 + 2 * index) * mpegts.PTS_HZ
        assert (segment.start_seconds, segment.stream_clock) == (100.5 + 2 * index, CLOCK_PTS)
        expected = listed.segments[index].current_program_date_time
        assert segment.wall_clock == WALL_PROGRAM_DATE_TIME
        assert segment.wall_time == expected.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # No playlist: the S3 event's time (2026-11-24T12:00:00Z) less the segment's duration.
    s3.delete_object(Bucket=BUCKET, Key="live/cam/segment.m3u8")
    segment = Segment(**validate.handler(event_for(f"live/cam/{names[0]}", s3), Context()))
    assert (segment.wall_time, segment.wall_clock) == ("2026-11-24T11:59:58.000Z", WALL_UPLOAD_TIME)


def test_sequence_clock_when_the_pts_is_elsewhere(s3, validate, segments):
    """A segment whose PTS (1.4 s) is far from its slot (seq 42 x 10 s): timestamps not continuous."""
    from contracts.segments import CLOCK_SEQUENCE

    s3.upload_file(segments["bikes"][0], BUCKET, "live/cam-1/segment_00042.ts")
    segment = Segment(**validate.handler(event_for("live/cam-1/segment_00042.ts", s3), Context()))
    assert (segment.start_seconds, segment.stream_clock) == (420.0, CLOCK_SEQUENCE)
