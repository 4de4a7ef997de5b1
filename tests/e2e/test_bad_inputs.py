"""Every kind of upload through the whole local chain ends in exactly one documented place.

The cases and outcomes are those of docs/bad-inputs.md; a test checks the two agree.
"""

import os
import random
import re
import uuid

import cv2
import numpy as np
import pytest

from devstack import observe
from videos.samples import cut_segments, sample_path

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def made(tmp_path_factory, segments):
    """The uploads, made from the sample videos."""
    base = tmp_path_factory.mktemp("bad-inputs")
    bikes = sample_path("bikes.mp4")
    real = segments["bikes"][0]
    files = {
        "zero_byte": b"",
        "random_bytes": random.Random(5).randbytes(50_000),
        "mp4_named_ts": open(bikes, "rb").read(),
        "image_named_ts": cv2.imencode(".png", np.random.default_rng(3).integers(0, 255, (128, 128, 3), dtype=np.uint8))[1].tobytes(),
    }
    data = open(real, "rb").read()
    files["truncated"] = data[: int(len(data) * 0.4)]
    paths = {
        "hevc": cut_segments(bikes, str(base / "hevc"), codec="libx265")[0],
        "with_audio": segments["bunny"][0],
        "odd_resolution": cut_segments(bikes, str(base / "odd"), scale="641:273", pix_fmt="yuv444p")[0],
        "very_short": cut_segments(bikes, str(base / "short"), duration_s=1)[0],
        "very_long": cut_segments(bikes, str(base / "long"), loops=3, segment_seconds=60, scale="320:136")[0],
        "huge_resolution": cut_segments(bikes, str(base / "huge"), scale="2560:1440", duration_s=1)[0],
        "odd_key": real,
        "outside_prefix": real,
        "upper_case_suffix": real,
        "not_a_segment": real,
        "empty_folder": real,
        "dot_folder": real,
        "dot_dot_folder": real,
        "huge_sequence": real,
    }
    for name, path in paths.items():
        files[name] = open(path, "rb").read()
    files["playlist"] = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
    return files


def documented_outcomes() -> dict[str, tuple[str, str]]:
    with open(os.path.join(ROOT, "docs", "bad-inputs.md")) as handle:
        rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \| `?([A-Z_]*)`? *\|", handle.read(), re.M)
    return {case: (outcome.strip(), reason) for case, outcome, reason in rows}


UPLOAD_CASES = {
    "zero_byte": ("DLQ", "TOO_SMALL"),
    "random_bytes": ("DLQ", "NOT_MPEG_TS"),
    "truncated": ("record", ""),
    "mp4_named_ts": ("DLQ", "NOT_MPEG_TS"),
    "image_named_ts": ("DLQ", "NOT_MPEG_TS"),
    "hevc": ("record", ""),
    "with_audio": ("record", ""),
    "odd_resolution": ("record", ""),
    "very_short": ("record", ""),
    "very_long": ("DLQ", "SEGMENT_TOO_LONG"),
    "huge_resolution": ("DLQ", "RESOLUTION_TOO_LARGE"),
    "odd_key": ("record", ""),
    "outside_prefix": ("no execution", ""),
    "playlist": ("ignored", ""),
    "upper_case_suffix": ("record", ""),
    "not_a_segment": ("DLQ", "NOT_A_SEGMENT"),
    "empty_folder": ("DLQ", "BAD_STREAM_ID"),
    "dot_folder": ("DLQ", "BAD_STREAM_ID"),
    "dot_dot_folder": ("DLQ", "BAD_STREAM_ID"),
    "huge_sequence": ("DLQ", "SEQUENCE_TOO_LARGE"),
}


def test_docs_table_matches_the_cases():
    documented = documented_outcomes()
    for case, expected in UPLOAD_CASES.items():
        assert documented.get(case) == expected, case
    for case in ("deleted_before_processing", "malformed_event", "duplicate_delivery", "new_version"):
        assert case in documented


def key_for(pipeline, case: str) -> tuple[str, str]:
    stream = f"{case.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    if case == "odd_key":
        # A space, a plus and a literal "%25": each reader must find the key as stored, decoded at most once.
        stream = f"cam 1+b%25 {uuid.uuid4().hex[:4]}"
        return stream, f"{pipeline.info['stream_prefix']}/{stream}/séquence 00001.ts"
    if case == "outside_prefix":
        return stream, f"elsewhere/{stream}/segment_00001.ts"
    prefix = pipeline.info["stream_prefix"]
    odd = {
        "playlist": f"{prefix}/{stream}/index.m3u8",
        "upper_case_suffix": f"{prefix}/{stream}/SEGMENT_00001.TS",
        "not_a_segment": f"{prefix}/{stream}/notes.txt",
        "empty_folder": f"{prefix}/{stream}//segment_00001.ts",
        "dot_folder": f"{prefix}/{stream}/./segment_00001.ts",
        "dot_dot_folder": f"{prefix}/{stream}/../segment_00001.ts",
        "huge_sequence": f"{prefix}/{stream}/segment_{'9' * 980}.ts",
    }
    if case in odd:
        return stream, odd[case]
    return stream, f"{pipeline.info['stream_prefix']}/{stream}/segment_00001.ts"


@pytest.mark.parametrize("case", sorted(UPLOAD_CASES))
def test_upload_outcome(pipeline, made, case):
    outcome, reason = UPLOAD_CASES[case]
    stream, key = key_for(pipeline, case)
    before = pipeline.upload(key, body=made[case])
    if outcome == "no execution":
        assert pipeline.started_before_sentinel(before) == []
        return
    (execution,) = pipeline.wait(before)
    records, letters = pipeline.records(stream), pipeline.dead_letters_for(key)
    if outcome == "ignored":
        assert execution["status"] == "SUCCEEDED" and records == [] and letters == []
        _, steps = observe.trace(pipeline.info, execution["executionArn"])
        assert [step.state for step in steps] == ["IsPlaylist", "PlaylistIgnored"]
        return
    if outcome == "record":
        assert execution["status"] == "SUCCEEDED", letters
        assert len(records) == 1 and not letters
        if case == "very_short":
            assert records[0]["video"]["frame_count"] == 25
            assert "fewer than" in records[0]["frames"]["note"]  # the record says the last frame was repeated
        if case == "odd_key":
            assert records[0]["segment_seq"] == 1 and records[0]["s3_uri"].endswith(key)
            assert records[0]["stream_id"] == stream
    else:
        assert execution["status"] == "FAILED"
        assert records == [] and len(letters) == 1
        assert letters[0].reason == reason


def test_object_deleted_before_processing(pipeline, segments):
    from tests.conftest import load_event

    stream, key = key_for(pipeline, "deleted_before_processing")
    event = load_event("s3_object_created.json")
    event["detail"]["bucket"]["name"] = pipeline.info["livestream_bucket"]
    event["detail"]["object"]["key"] = key  # never uploaded, or already gone
    before = pipeline.start(event)
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    (letter,) = pipeline.dead_letters_for(key)
    assert letter.reason == "OBJECT_MISSING"


def test_malformed_event(pipeline):
    marker = uuid.uuid4().hex
    before = pipeline.start({"hello": marker})
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "FAILED"
    letters = [d for d in pipeline.all_dead_letters() if d.event.get("hello") == marker]
    assert len(letters) == 1 and letters[0].reason == "MALFORMED_EVENT"


def test_new_version_of_a_key_replaces_the_record(pipeline, segments):
    stream, key = key_for(pipeline, "new_version")
    before = pipeline.upload(key, path=segments["bikes"][0])
    pipeline.wait(before)
    (first,) = pipeline.records(stream)
    before = pipeline.upload(key, path=segments["bikes_720p"][0])
    (execution,) = pipeline.wait(before)
    assert execution["status"] == "SUCCEEDED"
    (second,) = pipeline.records(stream)
    assert second["object_version"] != first["object_version"]
    assert second["video"]["width"] == 1280 and first["video"]["width"] == 640
    from contracts.records import ATTRIBUTES

    assert {attribute.name for attribute in ATTRIBUTES} <= set(second)  # the new record is complete
