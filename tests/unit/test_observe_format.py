"""How results and dead letters are printed."""

from contracts.dead_letters import DeadLetter
from devstack import observe


def record(**video):
    return {"segment_seq": 3, "start_seconds": 30, "duration_seconds": 10, "label": "Biking", "probability": 0.5,
            "video": video}


def test_timeline_shows_the_real_length_of_a_short_segment():
    assert "00:30.0-00:35.3" in observe.format_timeline([record(duration_s=5.28)])
    assert "00:30.0-00:40.0" in observe.format_timeline([record()])  # no decoded duration: the nominal one


def test_timeline_says_which_segments_were_scored_on_repeated_frames():
    note = "the segment has 25 frames, fewer than the 63 a clip spans; the last sampled frame was repeated"
    short, full = record(), {**record(), "segment_seq": 4}
    short["frames"], full["frames"] = {"note": note}, {"note": None}
    printed = observe.format_timeline([short, full])
    assert f"(segments 3: {note})" in printed
    assert "(segments" not in observe.format_timeline([full])


def test_dead_letter_reasons_are_never_cut():
    reason = "RESOLUTION_TOO_LARGE_AND_THEN_SOME"
    body = '{"error": "' + reason.lower() + '", "message": "x"}'
    cause = f'Received client error (413) from primary with message "{body}". See logs for endpoint ep.'
    letter = DeadLetter("DetectActivity", "SageMakerRuntime.ModelErrorException", cause,
                        {"detail": {"object": {"key": "live/a/s.ts"}}}, "arn", "t")
    assert letter.reason == reason
    assert reason in observe.format_dead_letters([letter])
