"""The built model.tar.gz served by AWS's stack (MMS + SageMaker MXNet toolkit), as the container runs it.

One server for the module (about 40 s to start here), S3 in a moto server. Each
refusal is a 4xx whose body is exactly the endpoint's JSON (no traceback), and
SageMaker Runtime would relay it as ``ModelError`` (``contracts.invoke_endpoint``).

``ENDPOINT_PYTHON=/path/to/python`` serves with another interpreter, for example a
Python 3.8 environment holding what AWS's container holds (see README, "The
container's Python"): the toolkit then installs OpenCV from the archive's wheels.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys

import boto3
import pytest
import requests

from contracts import invoke_endpoint
from contracts.environment import EndpointEnvironment

pytestmark = pytest.mark.slow
BUCKET = "segments-under-test"
OTHER = "someone-elses-bucket"
MAX_BYTES = 2 * 1024 * 1024


def scrambled(path: str, seed: int = 7) -> bytes:
    """A segment whose packets keep their headers (sync byte, PIDs, PAT/PMT) but whose payloads are noise."""
    data = bytearray(open(path, "rb").read())
    rng = random.Random(seed)
    for start in range(188 * 4, len(data) - 188 + 1, 188):
        offset = 4 + (1 + data[start + 4] if data[start + 3] & 0x20 else 0)
        for i in range(start + min(offset, 187), start + 188):
            data[i] = rng.randrange(256)
    return bytes(data)


@pytest.fixture(scope="module")
def endpoint(segments, model_dir, tmp_path_factory):
    from moto.server import ThreadedMotoServer

    from devstack.model_server import ModelServer
    from devstack.ports import free_port
    from infra.archives import ENTRY_MODULE, build_model_archive

    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=aws["AWS_ENDPOINT_URL"],
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    for bucket in (BUCKET, OTHER):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(segments["bikes"][0], BUCKET, "live/cam/segment_00000.ts")
    s3.upload_file(segments["bikes"][0], OTHER, "live/cam/segment_00000.ts")
    s3.upload_file(segments["bunny"][0], BUCKET, "live/cam/bunny_00000.ts")
    s3.put_object(Bucket=BUCKET, Key="live/cam/junk_00001.ts", Body=b"\x47" + b"\x00" * 4000)
    s3.put_object(Bucket=BUCKET, Key="live/cam/big_00001.ts", Body=b"\x47" * (MAX_BYTES + 1))
    s3.put_object(Bucket=BUCKET, Key="live/cam/corrupt_00001.ts", Body=scrambled(segments["bikes"][0]))
    # FFmpeg indirections: each would make FFmpeg read a local file if it were handed to it.
    local = segments["bikes"][0]
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{local}\n#EXT-X-ENDLIST\n".encode()
    s3.put_object(Bucket=BUCKET, Key="live/cam/index.m3u8", Body=playlist)
    s3.put_object(Bucket=BUCKET, Key="live/cam/playlist_00001.ts", Body=playlist)
    s3.put_object(Bucket=BUCKET, Key="live/cam/concat_00001.ts", Body=f"ffconcat version 1.0\nfile '{local}'\n".encode())
    s3.put_object(Bucket=BUCKET, Key="live/cam/sdp_00001.ts", Body=b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nm=video 5004 RTP/AVP 96\n")

    environment = {  # what the Pulumi program declares for the Model (infra/model_endpoint.py, __main__.py)
        "SAGEMAKER_PROGRAM": ENTRY_MODULE,
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        **EndpointEnvironment(
            allowed_buckets=(BUCKET,), max_segment_bytes=MAX_BYTES, max_segment_seconds=30.0, max_frame_pixels=1920 * 1088
        ).to_environ(),
    }
    # A state folder deeper than AF_UNIX's 108-byte socket path (a local stack's, in a test's tmp dir):
    # MMS's worker sockets must not be made inside it.
    base_dir = tmp_path_factory.mktemp("opt-ml") / ("deep-state-folder-" * 6)
    base_dir.mkdir()
    assert len(str(base_dir)) > 108
    server = ModelServer.from_archive(
        build_model_archive(model_dir), str(base_dir), environment, extra_env=aws,
        python=os.environ.get("ENDPOINT_PYTHON") or sys.executable,
    )
    with server:
        yield server
    moto.stop()


def invoke(server, body, content_type="application/json", timeout=120):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(server.url + "/invocations", data=data, headers={"Content-Type": content_type}, timeout=timeout)


def uri(key: str, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/live/cam/{key}"


def test_ping(endpoint):
    reply = requests.get(endpoint.url + "/ping", timeout=10)
    assert reply.status_code == 200


def test_good_segment_has_everything_the_record_needs(endpoint):
    from contracts.endpoint import EndpointResponse

    reply = invoke(endpoint, {"s3_uri": uri("segment_00000.ts"), "top_k": 3})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert EndpointResponse.from_dict(body).to_dict() == body  # the response is the contract, field for field
    assert isinstance(body["probability"], float) and 0 < body["probability"] <= 1
    assert body["label"] == body["top_k"][0]["label"] and len(body["top_k"]) == 3
    assert body["frames"]["indices"][0] == list(range(93, 157, 2))
    assert body["video"]["frame_count"] == 250 and body["video"]["width"] == 640
    assert body["model"]["random_weights"] is True and "random weights" in body["warning"]
    assert set(body["timings_ms"]) == {"download", "decode", "forward", "total"}
    assert invoke_endpoint.relay(reply.status_code, reply.text).status == 200


def test_clips_give_a_timeline(endpoint):
    body = invoke(endpoint, {"s3_uri": uri("segment_00000.ts"), "clips": 3}).json()
    assert len(body["clips"]) == 3
    assert [c["start_s"] for c in body["clips"]] == sorted(c["start_s"] for c in body["clips"])
    assert body["clips"][-1]["end_s"] <= 10.0


def test_min_confidence_replaces_a_weak_guess(endpoint):
    body = invoke(endpoint, {"s3_uri": uri("segment_00000.ts"), "min_confidence": 0.9}).json()
    assert body["confident"] is False and body["label"] == "no_confident_activity"
    assert body["top_k"][0]["label"] != "no_confident_activity"


def test_short_segment_with_audio_is_padded_and_says_so(endpoint):
    body = invoke(endpoint, {"s3_uri": uri("bunny_00000.ts")}).json()
    assert body["video"]["frame_count"] < 64 * 3 and body["label"]
    assert body["video"]["width"] == 1280


def test_concurrent_requests_are_all_answered(endpoint):
    """More requests than workers: MMS queues them, and each gets the same answer."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: invoke(endpoint, {"s3_uri": uri("segment_00000.ts")}), range(3)))
    assert [r.status_code for r in replies] == [200] * 3
    assert len({r.json()["probability"] for r in replies}) == 1  # same input, same answer


def test_limits_on_duration_and_resolution(segments, model_dir):
    """Checked from the container's facts, before any frame is decoded."""
    from contracts.environment import EndpointEnvironment
    from inference import errors
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


@pytest.mark.parametrize(
    "body,status,code",
    [
        pytest.param({"s3_uri": uri("segment_00000.ts", OTHER)}, 403, "bucket_not_allowed", id="foreign-bucket"),
        pytest.param({"s3_uri": uri("missing_00009.ts")}, 404, "object_not_found", id="missing-key"),
        pytest.param(b"{not json", 400, "invalid_request", id="malformed-body"),
        pytest.param(["not", "an", "object"], 400, "invalid_request", id="not-an-object"),
        pytest.param({"s3_uri": "http://example.com/x.ts"}, 400, "invalid_request", id="not-s3"),
        pytest.param('{"s3_uri": "s3://b/k.ts", "top_k": Infinity}', 400, "invalid_request", id="top_k-infinity"),
        pytest.param('{"s3_uri": "s3://b/k.ts", "top_k": NaN}', 400, "invalid_request", id="top_k-nan"),
        pytest.param('{"s3_uri": "s3://b/k.ts", "clips": 1e400}', 400, "invalid_request", id="clips-1e400"),
        pytest.param('{"s3_uri": "s3://b/k.ts", "top_k": 1000000000000000000000000000000}', 400, "invalid_request",
                     id="top_k-10e30"),
        pytest.param('{"s3_uri": "s3://b/k.ts", "min_confidence": -Infinity}', 400, "invalid_request", id="min-conf-inf"),
        pytest.param({"s3_uri": uri("segment_00000.ts"), "clips": "3"}, 400, "invalid_request", id="clips-string"),
        pytest.param({"s3_uri": uri("segment_00000.ts"), "top_k": 0}, 400, "invalid_request", id="top_k-zero"),
        pytest.param({"s3_uri": uri("big_00001.ts")}, 413, "segment_too_large", id="too-large"),
        pytest.param({"s3_uri": uri("junk_00001.ts")}, 422, "not_a_video", id="junk"),
        pytest.param({"s3_uri": uri("corrupt_00001.ts")}, 422, "corrupt_video", id="corrupt-inside"),
        pytest.param({"s3_uri": uri("index.m3u8")}, 422, "not_a_video", id="playlist"),
        pytest.param({"s3_uri": uri("playlist_00001.ts")}, 422, "not_a_video", id="playlist-named-ts"),
        pytest.param({"s3_uri": uri("concat_00001.ts")}, 422, "not_a_video", id="ffconcat"),
        pytest.param({"s3_uri": uri("sdp_00001.ts")}, 422, "not_a_video", id="sdp"),
    ],
)
def test_refusals_are_clean_json_and_a_model_error(endpoint, body, status, code):
    reply = invoke(endpoint, body)
    assert reply.status_code == status, reply.text
    assert json.loads(reply.text)["error"] == code  # the whole body is the JSON: no traceback after it
    assert "Traceback" not in reply.text and reply.json()["message"]
    relayed = invoke_endpoint.relay(reply.status_code, reply.text)
    assert (relayed.status, relayed.error) == (424, invoke_endpoint.MODEL_ERROR)
    assert relayed.body["OriginalStatusCode"] == status
    assert requests.get(endpoint.url + "/ping", timeout=10).status_code == 200


def test_wrong_content_type_is_415(endpoint):
    reply = invoke(endpoint, {"s3_uri": uri("segment_00000.ts")}, content_type="text/csv")
    assert reply.status_code == 415 and json.loads(reply.text)["error"] == "invalid_request"


def _status_line(endpoint, request: bytes) -> bytes:
    """The first line MMS answers to a raw request (it may reset the connection after answering)."""
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n" not in received:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("length,status", [(b"abc", b"400"), (b"99999999999", b"413")])
def test_bad_content_length_gets_an_answer(endpoint, length, status):
    line = _status_line(endpoint, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + length + b"\r\n\r\n{}")
    assert line.split(b" ")[1:2] == [status], line


def test_body_over_the_limit_is_413(endpoint):
    reply = invoke(endpoint, b'{"s3_uri": "' + b"x" * (7 * 1024 * 1024) + b'"}')
    assert reply.status_code == 413
