"""Episodes, notifications, stalls, lateness and evidence through the real local chain, with a model whose answer is known.

The stack is deployed with the colour model (tests/known_answer.py) through the
same path as ``devstack up --model-dir DIR``: solid red segments are ``red``,
black ones ``nothing``. Every check compares what the deployed workflow, the
episodes Lambda and the endpoint produced with the episode rule folded once
over the same timeline (contracts.episodes.episodes_of).
"""

import concurrent.futures
import json
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import episodes as ep
from devstack import episodes as reader
from devstack import observe
from tests.known_answer import build_colour_model, colour_segment

pytestmark = pytest.mark.slow
WATCHED = ["red", "green"]
#: Uploads in flight at once. Each concurrent execution needs a warm instance of both functions:
#: the fixture starts that many first, so that no step waits on a cold start of the local runtime.
WAVE = 3

def _pulumi_yaml_rules() -> ep.EpisodeRules:
    from infra.settings import project_defaults

    defaults = project_defaults()
    return ep.EpisodeRules(
        threshold=float(defaults["episodeThreshold"]),
        open_segments=int(defaults["episodeOpenSegments"]),
        close_segments=int(defaults["episodeCloseSegments"]),
        lateness_seconds=float(defaults["episodeLatenessSeconds"]),
    )


RULES = _pulumi_yaml_rules()  # the defaults of Pulumi.yaml (a test below checks they are the deployed ones)


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    base = tmp_path_factory.mktemp("colours")
    model = build_colour_model(str(base / "model"))
    return model, {c: colour_segment(str(base / f"{c}.ts"), c) for c in ("red", "green", "black")}


@pytest.fixture(scope="module")
def stack(colours, tmp_path_factory):
    from devstack.stack import LocalStack

    model, _ = colours
    local = LocalStack(
        state_dir=str(tmp_path_factory.mktemp("episodes-stack")),
        overrides={"modelDir": model, "watchActivities": WATCHED},
        sweep_seconds=None,  # the tests run the sweep themselves, at the times they choose
    )
    local.start(log=lambda *_: None)
    warm(local.info, WAVE)
    yield local
    local.stop()


def warm(info, instances: int) -> None:
    """Start ``instances`` warm instances of each function (concurrent invocations that change nothing)."""
    client = observe_lambda(info)
    functions = [(f"{info['episodes_function_name']}", {"sweep": True}),
                 (info["episodes_function_name"].replace("episodes", "validate-segment"), {"warm": True})]
    with concurrent.futures.ThreadPoolExecutor(instances * len(functions)) as pool:
        list(pool.map(lambda call: client.invoke(FunctionName=call[0], Payload=json.dumps(call[1]).encode()),
                      functions * instances))


class Chain:
    """Upload a stream's segments and read back records, episodes and the bus's events."""

    def __init__(self, stack, files):
        self.info = stack.info
        self.files = files
        self.clients = observe.clients(self.info)
        self.events: list[dict] = []

    def upload_all(self, stream: str, deliveries: list[tuple[int, str]], threads: int = WAVE) -> None:
        """Upload in the given order, ``threads`` at a time (each wave's executions run concurrently)."""

        def put(delivery):
            seq, colour = delivery
            key = f"{self.info['stream_prefix']}/{stream}/segment_{seq:05d}.ts"
            self.clients["s3"].upload_file(self.files[colour], self.info["livestream_bucket"], key)

        for start in range(0, len(deliveries), threads):
            wave = deliveries[start:start + threads]
            before = len(observe.executions(self.info))
            with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                list(pool.map(put, wave))
            observe.wait_for_executions(self.info, before + len(wave), timeout_s=300)
        lost = [(d.object_key, d.reason) for d in observe.dead_letters(self.info) if f"/{stream}/" in (d.object_key or "")]
        assert not lost, f"segments failed (not an episode question): {lost}"

    def sweep(self, at: float) -> dict:
        reply = observe_lambda(self.info).invoke(
            FunctionName=self.info["episodes_function_name"],
            Payload=json.dumps({"sweep": True, "time": ep.iso(at)}).encode(),
        )
        return json.loads(reply["Payload"].read())

    def bus_events(self, stream: str) -> list[dict]:
        self.events += observe.alerts(self.info, wait_s=1)
        return [e for e in self.events if e["detail"].get("stream_id") == stream]

    def expected(self, stream: str, stalled: bool = False) -> list[ep.Episode]:
        observations = [ep.observe(r, RULES) for r in observe.timeline(self.info, stream) if not r.get("late")]
        return ep.episodes_of(stream, observations, RULES, stalled=stalled)


def observe_lambda(info):
    import boto3

    from devstack.stack import LOCAL_CREDENTIALS

    return boto3.client("lambda", endpoint_url=info["endpoint_url"], region_name=info["region"], **LOCAL_CREDENTIALS)


@pytest.fixture(scope="module")
def chain(stack, colours):
    return Chain(stack, colours[1])


def fields(episodes):
    return [(e.label, e.start_seq, e.last_seq, e.status, e.close_reason, e.segment_count,
             round(e.start_seconds, 3), None if e.end_seconds is None else round(e.end_seconds, 3)) for e in episodes]


def test_episodes_notifications_evidence_stall_and_resume(chain):
    import cv2

    stream = f"cam-{uuid.uuid4().hex[:6]}"
    timeline = ["black", "red", "red", "red", "black", "black", "green", "green"]
    chain.upload_all(stream, list(enumerate(timeline)))
    episodes = reader.for_stream(chain.info, stream)
    assert fields(episodes) == fields(chain.expected(stream))
    (red,) = [e for e in episodes if e.label == "red"]
    (green,) = [e for e in episodes if e.label == "green"]
    # The known answer: red from 10 s to 40 s of the stream, closed after two segments without it.
    assert (red.start_seconds, red.end_seconds, red.status, red.close_reason) == (10.0, 40.0, "closed", "absent")
    assert red.peak_probability > 0.99 and red.segment_count == 3
    assert (green.status, green.end_seconds) == ("open", None)

    events = chain.bus_events(stream)
    by_type = sorted((e["detail-type"], e["detail"]["label"]) for e in events)
    assert by_type == [("ActivityEnded", "red"), ("ActivityStarted", "green"), ("ActivityStarted", "red")]
    ended = next(e for e in events if e["detail-type"] == "ActivityEnded")
    assert ended["source"] == "activity-detection" and ended["detail"]["episode_id"] == red.episode_id
    assert ended["detail"]["end_seconds"] == 40.0 and ended["detail"]["clip_uri"] == red.clip_uri

    # Evidence: the snapshot is the red frame, the clip an MP4 covering the episode plus its rolls.
    s3 = chain.clients["s3"]
    for uri in (red.snapshot_uri, red.clip_uri):
        assert uri and uri.startswith(f"s3://{chain.info['livestream_bucket']}/evidence/{stream}/{red.episode_id}/")
    bucket, _, key = red.snapshot_uri[5:].partition("/")
    jpeg = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    import numpy as np

    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    blue_, green_, red_ = picture.reshape(-1, 3).mean(axis=0)
    assert red_ > 200 and green_ < 60 and blue_ < 60
    clip = s3.get_object(Bucket=bucket, Key=red.clip_uri[5:].partition("/")[2])["Body"].read()
    assert clip[4:8] == b"ftyp"
    url = reader.presign(chain.info, red.clip_uri)
    assert url.startswith("http") and "evidence" in url

    # The stream stops: the sweep (as the schedule would, later) stalls it and closes green as stalled.
    summary = chain.sweep(time.time() + 3600)
    assert summary["stalled"] >= 1
    green = next(e for e in reader.for_stream(chain.info, stream) if e.label == "green")
    assert (green.status, green.close_reason, green.end_seconds) == ("closed", "stalled", 80.0)
    assert fields(reader.for_stream(chain.info, stream)) == fields(chain.expected(stream, stalled=True))
    types = [e["detail-type"] for e in chain.bus_events(stream)]
    assert types.count("StreamStalled") == 1 and types.count("ActivityEnded") == 2
    # A second sweep changes nothing and sends nothing.
    chain.sweep(time.time() + 3700)
    assert len(chain.bus_events(stream)) == len(types)

    # Segments come back: StreamResumed, and a new red episode.
    chain.upload_all(stream, [(8, "red")])
    types = [e["detail-type"] for e in chain.bus_events(stream)]
    assert types.count("StreamResumed") == 1 and types.count("ActivityStarted") == 3


def test_time_comes_from_the_pts_and_the_playlists_dates(stack, tmp_path):
    """Segments whose first PTS is 3.3 s past sequence x 10 (an encoder that started late), dated by their
    playlist: records, the episode and its events carry the PTS clock and the playlist's wall clock, exactly."""
    stream = f"pts-{uuid.uuid4().hex[:6]}"
    timeline = ["black", "red", "red", "black", "black"]
    files = {f"{c}{seq}": colour_segment(str(tmp_path / f"{seq}.ts"), c, offset_s=seq * 10 + 3.3)
             for seq, c in enumerate(timeline)}
    chain = Chain(stack, files)
    playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000Z\n" + "".join(
        f"#EXTINF:10.000,\nsegment_{seq:05d}.ts\n" for seq in range(len(timeline)))
    before = len(observe.executions(chain.info))
    chain.clients["s3"].put_object(Bucket=chain.info["livestream_bucket"],
                                   Key=f"{chain.info['stream_prefix']}/{stream}/segment.m3u8", Body=playlist.encode())
    observe.wait_for_executions(chain.info, before + 1, timeout_s=60)  # the playlist's own (ends at once)
    chain.upload_all(stream, [(seq, f"{c}{seq}") for seq, c in enumerate(timeline)])

    records = observe.timeline(chain.info, stream)
    assert [(r["start_seconds"], r["stream_clock"], r["wall_time"], r["wall_clock"]) for r in records] == [
        (seq * 10 + 3.3, "pts", f"2026-11-25T12:00:{seq * 10:02d}.000Z", "program-date-time") for seq in range(5)]
    (red,) = [e for e in reader.for_stream(chain.info, stream) if e.label == "red"]
    assert (red.start_seconds, red.end_seconds) == (13.3, 33.3)  # not 10 and 30: sequence x 10 is off by 3.3 s
    assert (red.start_time, red.end_time) == ("2026-11-25T12:00:10.000Z", "2026-11-25T12:00:30.000Z")
    details = {e["detail-type"]: e["detail"] for e in chain.bus_events(stream) if e["detail"].get("label") == "red"}
    assert (details["ActivityStarted"]["start_seconds"], details["ActivityEnded"]["end_seconds"]) == (13.3, 33.3)
    assert details["ActivityEnded"]["start_time"] == "2026-11-25T12:00:10.000Z"


def test_a_segment_later_than_the_bound_is_recorded_and_changes_nothing(chain):
    stream = f"late-{uuid.uuid4().hex[:6]}"
    chain.upload_all(stream, [(0, "red"), (1, "red"), (3, "black"), (4, "black")])
    assert reader.for_stream(chain.info, stream)[0].last_seq == 1  # the hole at 2 holds the fold
    chain.sweep(time.time() + RULES.lateness_seconds + 60)  # past the bound: 2 is lost, red closes
    before = fields(reader.for_stream(chain.info, stream))
    assert ("red", 0, 1, "closed", "absent") == before[0][:5]
    chain.upload_all(stream, [(2, "red")])
    (late,) = [r for r in observe.timeline(chain.info, stream) if r["segment_seq"] == 2]
    assert late.get("late") is True and late["label"] == "red"
    assert fields(reader.for_stream(chain.info, stream)) == before


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    timeline=st.lists(st.sampled_from(["red", "black", "green"]), min_size=4, max_size=7),
    data=st.data(),
)
def test_the_same_timeline_in_any_order_with_duplicates_and_concurrency(chain, timeline, data):
    stream = f"order-{uuid.uuid4().hex[:6]}"
    deliveries = list(enumerate(timeline))
    deliveries += data.draw(st.lists(st.sampled_from(deliveries), min_size=1, max_size=3), label="duplicates")
    order = data.draw(st.permutations(deliveries), label="order")
    chain.upload_all(stream, order, threads=3)
    got = reader.for_stream(chain.info, stream)
    # The stored episodes are the rule folded once over the timeline, in order.
    assert fields(got) == fields(chain.expected(stream))
    known = {"red": "red", "green": "green", "black": "nothing"}
    assert fields(got) == fields(ep.episodes_of(stream, [
        ep.Observation(seq, seq * 10.0, 10.0, 0.0, (ep.Hit(known[c], 0.99, 0.0, 10.0, 5.0),)) for seq, c in enumerate(timeline)
    ], RULES))
    # One ActivityStarted per watched episode, one ActivityEnded per closed one, nothing twice. An event
    # whose sending did not fit its run's time (evidence is cut first) is left in the outbox for the
    # sweep, as the schedule would run it now.
    chain.sweep(time.time())
    events = chain.bus_events(stream)
    ids = [(e["detail-type"], e["detail"]["episode_id"]) for e in events]
    assert len(ids) == len(set(ids))
    watched = [e for e in got if e.label in WATCHED]
    assert sorted(i for t, i in ids if t == "ActivityStarted") == sorted(e.episode_id for e in watched)
    assert sorted(i for t, i in ids if t == "ActivityEnded") == sorted(e.episode_id for e in watched if e.status == "closed")


def test_deployed_rule_is_pulumi_yaml_defaults(stack):
    from contracts.environment import EpisodesEnvironment

    variables = observe_lambda(stack.info).get_function_configuration(
        FunctionName=stack.info["episodes_function_name"])["Environment"]["Variables"]
    config = EpisodesEnvironment.from_environ(variables)
    deployed = ep.EpisodeRules(
        threshold=config.episode_threshold,
        open_segments=config.episode_open_segments,
        close_segments=config.episode_close_segments,
        lateness_seconds=config.episode_lateness_seconds,
    )
    assert deployed == RULES  # the reference fold of these tests uses the rule the stack runs
