"""Beyond the seed, on a stack deployed with clips=3 and a watch list: clip timelines, alerts, backfill, the picture."""

import os
import uuid

import pytest

from devstack import observe

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def featured(model_dir, tmp_path_factory):
    from devstack.stack import LocalStack

    with open(os.path.join(model_dir, "classes.txt")) as handle:
        every_label = [line.strip() for line in handle if line.strip()]
    # Random weights give whatever label they give: watch them all so that an alert must follow.
    stack = LocalStack(
        state_dir=str(tmp_path_factory.mktemp("featured")),
        overrides={"clips": 3, "watchActivities": every_label, "alertThreshold": 0.0, "segmentAlerts": True},
    )
    stack.start(log=lambda *_: None)
    yield stack
    stack.stop()


def test_clip_timeline_and_alert(featured, segments, tmp_path):
    from tests.e2e.conftest import Pipeline

    pipeline = Pipeline(featured)
    stream, key = pipeline.stream_key("segment_00002.ts")
    (execution,) = pipeline.wait(pipeline.upload(key, path=segments["bikes"][0]))
    assert execution["status"] == "SUCCEEDED"
    (record,) = pipeline.records(stream)
    clips = observe.clip_rows(record)
    assert len(clips) == 3
    assert clips[0]["start_s"] >= 20 and clips[-1]["end_s"] <= 30  # on the stream's clock: segment 2 is 20-30 s
    assert [c["start_s"] for c in clips] == sorted(c["start_s"] for c in clips)
    text = observe.format_timeline([record], by_clip=True)
    clip_lines = text.splitlines()[2:2 + len(clips)]  # header, the segment's line, then one line per clip
    assert len(clip_lines) == 3
    for line, clip in zip(clip_lines, clips):
        assert clip["label"] in line and f"{clip['probability']:.4f}" in line

    from contracts.events import ACTIVITY_DETECTED

    # The bus also carries the episode's ActivityStarted (every label is watched here).
    (alert,) = [a for a in observe.alerts(featured.info, wait_s=5) if a["detail-type"] == ACTIVITY_DETECTED.detail_type]
    assert alert["detail"] == ACTIVITY_DETECTED.parse(alert) == {
        "stream_id": stream, "segment_seq": 2, "start_seconds": 20.0,
        "label": record["label"], "probability": record["probability"], "s3_uri": record["s3_uri"],
    }

    from devstack.plot import plot_timeline

    picture = plot_timeline([record], str(tmp_path / "t.png"), watched=[record["label"]])
    assert open(picture, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_backfill_with_bounded_concurrency(featured, segments, tmp_path):
    from devstack.stream import cut_and_upload
    from videos.samples import sample_path

    info = featured.info
    s3 = observe.clients(info)["s3"]
    recording = tmp_path / f"recording-{uuid.uuid4().hex[:6]}.mp4"
    recording.write_bytes(open(sample_path("bikes.mp4"), "rb").read())
    expected = [len(observe.executions(info))]
    in_flight = []

    def wait_for(batch):
        in_flight.append(len(batch))
        expected[0] += len(batch)
        observe.wait_for_executions(info, expected[0])

    streams = cut_and_upload([str(recording)], s3, info["livestream_bucket"], info["stream_prefix"], concurrency=1,
                             wait_for=wait_for, progress=False).streams
    (stream_id,) = streams
    assert max(in_flight) == 1
    assert len(observe.timeline(info, stream_id)) == len(streams[stream_id]) == 1
