"""Key parsing and MPEG-TS checks of the validation Lambda."""

import pytest

from contracts.segments import SEGMENT_REJECTED_ERROR, RejectionReason, rejection_error, rejection_reason
from lambdas.validate_segment.rules import SegmentRejected, rejection_class, check_mpeg_ts, check_size, parse_key


@pytest.mark.parametrize(
    "key,stream,sequence",
    [
        ("live/cam-1/segment_00042.ts", "cam-1", 42),
        ("live/cam-1/channel_00000123.ts", "cam-1", 123),  # MediaLive's naming
        ("live/cam 1/seg 7.ts", "cam 1", 7),  # spaces
        ("live/a+b/seg+9.ts", "a+b", 9),  # plus signs are literal
        ("live/café/séquence_3.ts", "café", 3),  # non-ASCII
        ("live/site/east/seg_00001.ts", "site/east", 1),  # nested stream ids
        ("live/cam/v2_take_0005.ts", "cam", 5),  # the last run of digits
        ("live/cam/seg_00001.TS", "cam", 1),  # the suffix in any case
        ("live/cam/seg_000000000000000000042.ts", "cam", 42),  # leading zeros do not count
        ("live/cam/seg_999999999999.ts", "cam", 999_999_999_999),  # 12 digits
    ],
)
def test_parse_key(key, stream, sequence):
    parsed = parse_key(key, "live")
    assert (parsed.stream_id, parsed.sequence) == (stream, sequence)


@pytest.mark.parametrize(
    "key,reason",
    [
        ("live/cam/index.m3u8", RejectionReason.NOT_A_SEGMENT),
        ("other/cam/seg_1.ts", RejectionReason.OUTSIDE_PREFIX),
        ("live/seg_1.ts", RejectionReason.OUTSIDE_PREFIX),
        ("live/cam/segment.ts", RejectionReason.NO_SEQUENCE),
        ("live/cam/notes.txt", RejectionReason.NOT_A_SEGMENT),
        ("live//seg_00001.ts", RejectionReason.BAD_STREAM_ID),
        ("live/./seg_00001.ts", RejectionReason.BAD_STREAM_ID),
        ("live/../seg_00001.ts", RejectionReason.BAD_STREAM_ID),
        ("live/cam/../seg_00001.ts", RejectionReason.BAD_STREAM_ID),
        ("live/cam//seg_00001.ts", RejectionReason.BAD_STREAM_ID),
        ("live/cam/seg_1000000000000.ts", RejectionReason.SEQUENCE_TOO_LARGE),
        ("live/cam/seg_" + "9" * 980 + ".ts", RejectionReason.SEQUENCE_TOO_LARGE),
    ],
)
def test_parse_key_rejects(key, reason):
    with pytest.raises(SegmentRejected) as rejected:
        parse_key(key, "live")
    assert rejected.value.reason is reason
    assert type(rejected.value).__name__ == f"SegmentRejected.{reason.value}" and str(rejected.value)


def test_size_bounds():
    check_size(188 * 5, 10_000)
    with pytest.raises(rejection_class(RejectionReason.TOO_SMALL)):
        check_size(0, 10_000)
    with pytest.raises(rejection_class(RejectionReason.TOO_LARGE)):
        check_size(10_001, 10_000)


def test_mpeg_ts_sync_bytes():
    good = bytearray(188 * 5)
    for packet in range(5):
        good[packet * 188] = 0x47
    check_mpeg_ts(bytes(good))
    bad = bytearray(good)
    bad[188 * 3] = 0x00
    with pytest.raises(SegmentRejected, match="packet 3") as rejected:
        check_mpeg_ts(bytes(bad))
    assert rejected.value.reason is RejectionReason.NOT_MPEG_TS


@pytest.mark.parametrize("reason", list(RejectionReason))
def test_the_error_name_the_workflow_sees_carries_the_reason(reason):
    # Lambda reports a function error under the exception's class name.
    error = SegmentRejected(reason, "detail")
    assert type(error).__name__ == rejection_error(reason) == f"{SEGMENT_REJECTED_ERROR}.{reason.value}"
    assert rejection_reason(type(error).__name__) is reason and str(error) == "detail"
    assert isinstance(error, SegmentRejected)


def test_other_error_names_carry_no_reason():
    assert rejection_reason("States.Timeout") is None
    assert rejection_reason("SegmentRejected.NOT_A_REASON") is None
