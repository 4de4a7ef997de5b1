"""The HTTP server (SageMaker's hosting contract) against a segment stored in moto's S3."""

import json
import threading

import boto3
import pytest
import requests
from moto import mock_aws

pytestmark = pytest.mark.slow
BUCKET = "segments-under-test"
OTHER = "someone-elses-bucket"


@pytest.fixture(scope="module")
def endpoint(segments, model_dir, tmp_path_factory):
    from inference.server import serve

    mock = mock_aws()
    mock.start()
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (BUCKET, OTHER):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(segments["bikes"][0], BUCKET, "live/cam/segment_00000.ts")
    s3.upload_file(segments["bikes"][0], OTHER, "live/cam/segment_00000.ts")
    s3.upload_file(segments["bunny"][0], BUCKET, "live/cam/bunny_00000.ts")
    s3.put_object(Bucket=BUCKET, Key="live/cam/junk_00001.ts", Body=b"\x47" + b"\x00" * 4000)
    s3.put_object(Bucket=BUCKET, Key="live/cam/big_00001.ts", Body=b"\x47" * (2 * 1024 * 1024 + 1))
    import os

    from contracts.environment import EndpointEnvironment

    environment = EndpointEnvironment(
        allowed_buckets=(BUCKET,), max_segment_bytes=2 * 1024 * 1024, max_segment_seconds=30, max_frame_pixels=1920 * 1088
    ).to_environ()
    os.environ.update(environment)
    server = serve(model_dir, port=0, allow_faults=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    mock.stop()
    for name in environment:
        os.environ.pop(name, None)


def invoke(url, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return requests.post(url + "/invocations", data=data, headers={"Content-Type": content_type}, timeout=120)


def test_ping(endpoint):
    reply = requests.get(endpoint + "/ping", timeout=10)
    assert reply.status_code == 200 and reply.json()["model"]["random_weights"] is True


def test_prediction_has_everything_the_record_needs(endpoint):
    reply = invoke(endpoint, {"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts", "top_k": 3})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    from contracts.endpoint import EndpointResponse

    assert EndpointResponse.from_dict(body).to_dict() == body  # the response is the contract, field for field
    assert isinstance(body["probability"], float) and 0 < body["probability"] <= 1
    assert body["label"] == body["top_k"][0]["label"] and len(body["top_k"]) == 3
    assert body["frames"]["indices"][0] == list(range(93, 157, 2))
    assert body["video"]["frame_count"] == 250 and body["video"]["width"] == 640
    assert body["model"]["random_weights"] is True and "random weights" in body["warning"]
    assert set(body["timings_ms"]) == {"download", "decode", "forward", "total"}


def test_clips_give_a_timeline(endpoint):
    body = invoke(endpoint, {"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts", "clips": 3}).json()
    assert len(body["clips"]) == 3
    assert [c["start_s"] for c in body["clips"]] == sorted(c["start_s"] for c in body["clips"])
    assert body["clips"][-1]["end_s"] <= 10.0


def test_min_confidence_replaces_a_weak_guess(endpoint):
    body = invoke(endpoint, {"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts", "min_confidence": 0.9}).json()
    assert body["confident"] is False and body["label"] == "no_confident_activity"
    assert body["top_k"][0]["label"] != "no_confident_activity"


def test_short_segment_with_audio_is_padded_and_says_so(endpoint):
    body = invoke(endpoint, {"s3_uri": f"s3://{BUCKET}/live/cam/bunny_00000.ts"}).json()
    assert body["video"]["frame_count"] < 64 * 3 and body["label"]
    assert body["video"]["width"] == 1280


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"s3_uri": f"s3://{OTHER}/live/cam/segment_00000.ts"}, 403, "bucket_not_allowed"),
        ({"s3_uri": f"s3://{BUCKET}/live/cam/missing.ts"}, 404, "object_not_found"),
        ({"s3_uri": f"s3://{BUCKET}/live/cam/junk_00001.ts"}, 422, "not_a_video"),
        ({"s3_uri": f"s3://{BUCKET}/live/cam/big_00001.ts"}, 413, "segment_too_large"),
        ({"s3_uri": "http://example.com/x.ts"}, 400, "invalid_request"),
        ({"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts", "top_k": 0}, 400, "invalid_request"),
        ({"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts", "clips": "3"}, 400, "invalid_request"),
        (["not", "an", "object"], 400, "invalid_request"),
        (b"{not json", 400, "invalid_request"),
    ],
)
def test_bad_input_gets_4xx_and_server_keeps_serving(endpoint, body, status, code):
    reply = invoke(endpoint, body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"] == code and reply.json()["message"]
    assert requests.get(endpoint + "/ping", timeout=10).status_code == 200


def test_limits_on_duration_and_resolution(segments, model_dir):
    """Checked from the container's facts, before any frame is decoded."""
    from inference import errors
    from contracts.environment import EndpointEnvironment
    from inference.service import InferenceService, Limits
    from inference.video import SegmentReader

    service = InferenceService(model_dir, limits=Limits(EndpointEnvironment(
        allowed_buckets=(), max_segment_bytes=64 * 1024 * 1024, max_segment_seconds=5, max_frame_pixels=1280 * 720
    ).to_environ()))
    with SegmentReader(segments["bikes"][0]) as reader:
        with pytest.raises(errors.InferenceError) as too_long:
            service._check_limits(reader.facts)
    assert too_long.value.code == errors.SEGMENT_TOO_LONG
    with SegmentReader(segments["bikes_1080p"][0]) as reader:
        with pytest.raises(errors.InferenceError) as too_big:
            service._check_limits(reader.facts)
    assert too_big.value.code == errors.RESOLUTION_TOO_LARGE


def test_injected_throttling_then_recovery(endpoint):
    requests.post(endpoint + "/_faults", json={"kind": "throttle", "count": 2}, timeout=10)
    statuses = [invoke(endpoint, {"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts"}).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


def test_concurrent_requests_are_all_answered(endpoint):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: invoke(endpoint, {"s3_uri": f"s3://{BUCKET}/live/cam/segment_00000.ts"}), range(4)))
    assert [r.status_code for r in replies] == [200] * 4
    assert len({r.json()["probability"] for r in replies}) == 1  # same input, same answer
