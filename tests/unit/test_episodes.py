"""The episode rule (contracts/episodes.py): opening, closing, lateness, stalls, and order independence."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import episodes as ep

RULES = ep.EpisodeRules(threshold=0.5, open_segments=1, close_segments=2, lateness_seconds=60)


def record(seq, label, probability=0.9, created=1000.0, clips=None, stream="cam-1"):
    return {
        "stream_id": stream,
        "segment_seq": seq,
        "start_seconds": seq * 10.0,
        "duration_seconds": 10.0,
        "label": label,
        "probability": probability,
        "clips": clips or [{"start_s": 0.0, "end_s": 10.0, "label": label, "probability": probability}],
        "frames": {"timestamps_s": [i * 0.5 for i in range(20)]},
        "created_at": created,
        "s3_uri": f"s3://b/live/{stream}/seg_{seq:05d}.ts",
    }


def timeline(labels, created=1000.0, rules=RULES):
    return [ep.observe(record(seq, label, created=created + seq), rules) for seq, label in enumerate(labels)]


def summary(found):
    return [(e.label, e.start_seq, e.last_seq, e.status, e.close_reason) for e in found]


def test_an_episode_opens_on_the_first_segment_and_closes_after_two_without():
    found = ep.episodes_of("cam-1", timeline(["walk", "ski", "ski", "ski", "walk", "walk", "walk"]), RULES)
    assert summary([e for e in found if e.label == "ski"]) == [("ski", 1, 3, "closed", "absent")]
    ski = [e for e in found if e.label == "ski"][0]
    assert (ski.start_seconds, ski.end_seconds, ski.segment_count) == (10.0, 40.0, 3)


def test_one_segment_without_the_label_does_not_split_an_episode():
    found = ep.episodes_of("cam-1", timeline(["ski", "walk", "ski", "x", "x"]), RULES)
    assert summary([e for e in found if e.label == "ski"]) == [("ski", 0, 2, "closed", "absent")]


def test_an_episode_still_open_at_the_end_has_no_end():
    found = ep.episodes_of("cam-1", timeline(["x", "ski", "ski"]), RULES)
    ski = [e for e in found if e.label == "ski"][0]
    assert ski.status == "open" and ski.end_seconds is None and ski.to_json()["end_seconds"] is None


def test_opening_after_two_segments_ignores_a_single_segment():
    rules = dataclasses.replace(RULES, open_segments=2)
    found = ep.episodes_of("cam-1", timeline(["ski", "x", "x", "ski", "ski", "x", "x"], rules=rules), rules)
    assert summary([e for e in found if e.label == "ski"]) == [("ski", 3, 4, "closed", "absent")]


def test_below_the_threshold_is_not_the_label():
    observations = [ep.observe(record(s, "ski", probability=p), RULES) for s, p in enumerate([0.9, 0.4, 0.3, 0.9])]
    found = ep.episodes_of("cam-1", observations, RULES)
    assert summary(found) == [("ski", 0, 0, "closed", "absent"), ("ski", 3, 3, "open", None)]


def test_with_clips_a_clip_shows_the_label_and_times_come_from_the_clip():
    clips = [
        {"start_s": 0.0, "end_s": 3.3, "label": "walk", "probability": 0.8},
        {"start_s": 3.3, "end_s": 6.6, "label": "ski", "probability": 0.7},
        {"start_s": 6.6, "end_s": 10.0, "label": "walk", "probability": 0.8},
    ]
    obs = ep.observe(record(4, "walk", clips=clips), RULES)
    assert [h.label for h in obs.hits] == ["ski", "walk"]
    found = ep.episodes_of("cam-1", [obs], RULES)
    ski = [e for e in found if e.label == "ski"][0]
    assert (ski.start_seconds, ski.last_seen_seconds) == (43.3, 46.6)


def test_peak_and_ids_are_stable():
    observations = [ep.observe(record(s, "ski", probability=p), RULES) for s, p in enumerate([0.6, 0.95, 0.7])]
    (ski,) = ep.episodes_of("cam-1", observations, RULES)
    assert (ski.peak_probability, ski.peak_seq) == (0.95, 1)
    assert ski.episode_id == ep.episode_id("cam-1", "ski", 0) != ep.episode_id("cam-2", "ski", 0)


def test_a_hole_holds_the_fold_until_the_segment_arrives_or_the_bound_passes():
    obs = timeline(["ski", "ski", "ski", "x", "x"])
    without_2 = [o for o in obs if o.seq != 2]
    waiting = ep.advance(ep.Carry("cam-1"), without_2, now=1010.0, rules=RULES)
    assert waiting.carry.anchor_seq == 1 and not waiting.lost
    later = ep.advance(waiting.carry, without_2, now=1004.0 + 61, rules=RULES)
    assert later.lost == [2] and later.carry.anchor_seq == 4
    # The segment arrives after its sequence was declared lost: kept out, and reported.
    arrived = ep.advance(later.carry, obs, now=2000.0, rules=RULES)
    assert arrived.late == [2] and not arrived.changed and not arrived.transitions


def test_a_stall_closes_open_episodes_and_a_new_segment_resumes_the_stream():
    obs = timeline(["ski", "ski"])
    first = ep.advance(ep.Carry("cam-1"), obs, now=1002.0, rules=RULES, stall_after_seconds=30)
    assert [t.detail_type for t in first.transitions] == ["ActivityStarted"]
    stalled = ep.advance(first.carry, obs, now=1100.0, rules=RULES, stall_after_seconds=30)
    assert [t.detail_type for t in stalled.transitions] == ["ActivityEnded", "StreamStalled"]
    assert stalled.transitions[0].episode.close_reason == "stalled"
    again = ep.advance(stalled.carry, obs, now=1200.0, rules=RULES, stall_after_seconds=30)
    assert again.transitions == []
    resumed = ep.advance(again.carry, obs + [ep.observe(record(2, "ski", created=1300.0), RULES)], now=1301.0, rules=RULES,
                         stall_after_seconds=30)
    assert [t.detail_type for t in resumed.transitions] == ["StreamResumed", "ActivityStarted"]


def test_items_round_trip():
    from boto3.dynamodb.types import TypeSerializer

    (ski,) = [e for e in ep.episodes_of("cam-1", timeline(["ski", "ski", "x", "x"]), RULES) if e.label == "ski"]
    ski.snapshot_uri = "s3://b/evidence/x.jpg"
    low_level = {k: TypeSerializer().serialize(v) for k, v in ski.to_item().items()}
    assert ep.decode_episode(low_level).to_json() == ski.to_json()
    carry = ep.advance(ep.Carry("cam-1"), timeline(["ski", "ski"]), now=1002.0, rules=RULES).carry
    assert ep.Carry.from_item(carry.to_item(), "cam-1") == carry


def test_rules_are_bounded():
    with pytest.raises(ValueError):
        dataclasses.replace(RULES, open_segments=3).validate()
    with pytest.raises(ValueError):
        dataclasses.replace(RULES, close_segments=4).validate()


# --- Order independence: any arrival order, duplicates, concurrent runs ------------------------------

LABELS = st.sampled_from(["ski", "walk", "x"])


class Store:
    """The state item with a version (conditional writes), and the records seen so far."""

    def __init__(self):
        self.carry = ep.Carry("cam-1")
        self.episodes = {}
        self.events = []
        self.records = {}


def run(store, snapshot_carry, visible, now, stall=None):
    """One execution's step: fold from what it read; commit only if the version did not move (else retry)."""
    while True:
        result = ep.advance(snapshot_carry, visible, now=now, rules=RULES, stall_after_seconds=stall)
        if store.carry.version != snapshot_carry.version:
            snapshot_carry, visible = store.carry, list(store.records.values())  # conflict: read again
            continue
        if result.state_changed or result.carry != store.carry:
            result.carry.version = snapshot_carry.version + 1
            store.carry = result.carry
            store.episodes.update({k: dataclasses.replace(e) for k, e in result.changed.items()})
            store.events.extend(t.event_id for t in result.transitions)
        return


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(LABELS, min_size=1, max_size=12),
    data=st.data(),
)
def test_any_order_with_duplicates_and_concurrency_gives_the_same_episodes(labels, data):
    observations = timeline(labels)
    deliveries = observations + data.draw(st.lists(st.sampled_from(observations), max_size=4), label="duplicates")
    order = data.draw(st.permutations(deliveries), label="order")
    store = Store()
    pending = []  # executions that read but have not committed yet (concurrency)
    for i, obs in enumerate(order):
        store.records[obs.seq] = obs
        pending.append((store.carry, list(store.records.values())))
        while pending and (i == len(order) - 1 or data.draw(st.booleans(), label="commit")):
            carry, visible = pending.pop(data.draw(st.integers(0, len(pending) - 1), label="which"))
            run(store, carry, visible, now=1000.0 + len(labels))
    expected = ep.episodes_of("cam-1", observations, RULES)
    got = [store.episodes[k] for k in sorted(store.episodes)]
    # Candidates never confirmed are not episodes; open ones are stored as open.
    assert [e.to_json() for e in got] == [e.to_json() for e in expected]
    # Exactly one ActivityStarted per episode, one ActivityEnded per closed one, nothing twice.
    assert len(store.events) == len(set(store.events))
    assert sorted(e for e in store.events if e.endswith(ep.ACTIVITY_STARTED)) == sorted(
        f"{e.episode_id}:{ep.ACTIVITY_STARTED}" for e in expected
    )
    assert sorted(e for e in store.events if e.endswith(ep.ACTIVITY_ENDED)) == sorted(
        f"{e.episode_id}:{ep.ACTIVITY_ENDED}" for e in expected if e.status == "closed"
    )


def test_the_event_fixture_has_exactly_the_fields_the_lambda_sends():
    from tests.conftest import load_event

    (ski,) = [e for e in ep.episodes_of("cam-1", timeline(["ski", "ski", "x", "x"]), RULES) if e.label == "ski"]
    detail = ep.event_detail(ep.Transition(ep.ACTIVITY_ENDED, ski, "cam-1"))
    fixture = load_event("activity_ended.json")
    assert set(fixture["detail"]) == set(detail) and fixture["source"] == ep.EVENT_SOURCE
    assert detail["event_id"] == f"{ski.episode_id}:ActivityEnded"


def test_the_timeline_picture_draws_episodes_as_bars(tmp_path):
    from matplotlib import pyplot

    from devstack import plot

    labels = ["walk", "ski", "ski", "ski", "walk", "walk"]
    items = [record(seq, label) for seq, label in enumerate(labels)]
    found = ep.episodes_of("cam-1", timeline(labels), RULES)
    drawn = []
    original = plot.Rectangle

    def spy(*args, **kwargs):
        drawn.append((args, kwargs))
        return original(*args, **kwargs)

    plot.Rectangle = spy
    try:
        path = plot.plot_timeline(items, str(tmp_path / "t.png"), episodes=found)
    finally:
        plot.Rectangle = original
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    bars = [args for args, kwargs in drawn if kwargs.get("facecolor") == "black"]
    ski = next(e for e in found if e.label == "ski")
    # (x, y), width, height: the ski episode from 10 s, 30 s long.
    assert any(xy[0] == ski.start_seconds and width == 30.0 for xy, width, _ in bars)
    assert len(bars) == len(found)
    pyplot.close("all")
