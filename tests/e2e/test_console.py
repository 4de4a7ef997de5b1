"""The console in a real browser (Debian's chromium driven by Playwright) on the local stack.

Every page is loaded as a person would; screenshots land in ``$CONSOLE_SCREENSHOTS``
(``docs/`` refreshes the README's pictures) or in a temporary folder. The stack
serves the known-answer colour model (tests/known_answer.py), so that a stream of
solid red segments makes an episode with a snapshot and a clip to open.
"""

import os
import threading
import uuid

import pytest
import requests

from contracts.segments import RejectionReason, rejection_error
from devstack.console.app import serve
from devstack.console.data import ConsoleData
from tests.known_answer import build_colour_model, colour_segment

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
HOSTILE = "<img src=x onerror=alert(1)>"
WAIT_MS = 180_000  # a segment through the whole chain on a busy 2-core machine


WATCHED = ["red"]


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    """The colour model, and a red-red-black-black stream whose timestamps run on (segment n starts at 10 n s)."""
    base = tmp_path_factory.mktemp("console-colours")
    model = build_colour_model(str(base / "model"))
    timeline = ["red", "red", "black", "black"]
    return model, [colour_segment(str(base / f"{n}.ts"), c, offset_s=10.0 * n) for n, c in enumerate(timeline)]


@pytest.fixture(scope="module")
def stack(colours, tmp_path_factory):
    """This module's own local stack (default config and timeouts), serving the colour model."""
    from devstack.stack import LocalStack

    local = LocalStack(state_dir=str(tmp_path_factory.mktemp("console-stack")),
                       overrides={"modelDir": colours[0], "watchActivities": WATCHED})
    local.start(log=lambda *_: None)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def console(stack):
    server = serve(ConsoleData(stack.info), port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 640})
    page = context.new_page()
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not page.dialogs, f"a script ran from the data: {page.dialogs}"
    assert not page.errors, f"script errors: {page.errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("CONSOLE_SCREENSHOTS") or str(tmp_path_factory.mktemp("console-shots"))
    os.makedirs(folder, exist_ok=True)

    def take(page, name):
        path = os.path.join(folder, f"console-{name}.png")
        page.screenshot(path=path)
        return path

    return take


@pytest.fixture(scope="module")
def recorded(stack, segments):
    """A stream with one recorded segment, and a stream whose id is an HTML payload."""
    from tests.e2e.conftest import Pipeline

    pipeline = Pipeline(stack)
    stream = f"cam-{uuid.uuid4().hex[:6]}"
    for stream_id in (stream, HOSTILE):  # one at a time: the endpoint is one process on a small machine
        before = pipeline.upload(f"{pipeline.info['stream_prefix']}/{stream_id}/segment_00001.ts", path=segments["bikes"][0])
        pipeline.wait(before, timeout_s=WAIT_MS / 1000)
    letters = [(d.object_key, d.reason) for d in pipeline.all_dead_letters()]
    assert pipeline.records(stream) and pipeline.records(HOSTILE), f"not recorded; dead letters: {letters}"
    return pipeline, stream


def open_page(page, url):
    page.goto(url)
    page.wait_for_selector("main[data-updated]")  # the first poll has rendered


def test_streams_page_lists_streams_with_health_and_escapes_a_hostile_stream_id(console, page, recorded, shots):
    _, stream = recorded
    open_page(page, console + "/")
    row = page.locator(f'#streams tr[data-stream-id="{stream}"]')
    assert row.locator("td").nth(4).inner_text() == "1"  # records
    assert row.locator(".health").inner_text() in ("live", "stalled")
    hostile = page.locator("#streams tbody a", has_text=HOSTILE)
    assert hostile.inner_text() == HOSTILE  # shown as text ...
    assert page.locator('img[src="x"]').count() == 0  # ... never as an element
    assert page.locator("#records-per-hour .main-svg").count() > 0  # Plotly drew the chart
    shots(page, "streams")

    hostile.click()
    page.wait_for_selector("#segments tbody tr")
    assert page.locator("#stream-id").inner_text() == HOSTILE
    assert HOSTILE in page.title()
    assert page.locator('img[src="x"]').count() == 0


def test_stream_page_follows_a_new_segment_while_the_stream_runs(console, page, recorded, segments, shots):
    pipeline, stream = recorded
    open_page(page, f"{console}/stream?id={stream}")
    assert page.locator("#segments tbody tr").count() == 1
    assert page.locator("#timeline .scatterlayer .trace").count() >= 1

    pipeline.upload(f"{pipeline.info['stream_prefix']}/{stream}/segment_00002.ts", path=segments["bikes"][0])
    page.wait_for_selector('#segments tr[data-segment-seq="2"]', timeout=WAIT_MS)  # no reload
    assert page.locator("#segments tbody tr").count() == 2
    label = page.locator('#segments tr[data-segment-seq="2"] td.label').inner_text()
    assert label == pipeline.records(stream)[-1]["label"]


def test_an_episode_shows_its_snapshot_and_plays_its_clip(console, page, stack, colours, shots):
    from devstack import episodes as reader
    from tests.e2e.conftest import Pipeline

    pipeline = Pipeline(stack)
    stream = f"episode-{uuid.uuid4().hex[:6]}"
    for seq, path in enumerate(colours[1]):  # one at a time: the endpoint is one process on a small machine
        before = pipeline.upload(f"{pipeline.info['stream_prefix']}/{stream}/segment_{seq:05d}.ts", path=path)
        pipeline.wait(before, timeout_s=WAIT_MS / 1000)
    (red,) = [e for e in reader.for_stream(stack.info, stream) if e.label == "red"]
    assert (red.status, red.start_seconds, red.end_seconds) == ("closed", 0.0, 20.0) and red.clip_uri

    open_page(page, f"{console}/stream?id={stream}")
    assert page.locator("#timeline .barlayer .point").count() >= 1  # the episodes drawn as bars
    shots(page, "stream")
    card = page.locator(f'article.episode[data-episode-id="{red.episode_id}"]')
    assert card.locator(".label").inner_text() == "red"
    assert card.locator("img.snapshot").evaluate(
        "img => img.complete ? img.naturalWidth : new Promise(r => img.addEventListener('load', () => r(img.naturalWidth)))"
    ) == 320  # the snapshot loaded from its presigned URL
    video = card.locator("video.clip")
    duration = video.evaluate(
        "v => v.readyState >= 1 ? v.duration : new Promise((ok, bad) => {"
        " v.addEventListener('loadedmetadata', () => ok(v.duration), {once: true});"
        " v.addEventListener('error', () => bad(new Error('video error ' + (v.error && v.error.code))), {once: true}); })"
    )
    assert 20.0 <= duration <= 31.0, duration  # the episode (20 s) and its post-roll, as far as the stream goes
    played = video.evaluate(
        "v => new Promise((ok, bad) => { v.addEventListener('timeupdate', () => v.currentTime > 0 && ok(v.currentTime));"
        " v.play().catch(bad); })"
    )
    assert played > 0
    video.evaluate("v => { v.pause(); v.currentTime = 5; }")  # a red frame for the picture
    card.scroll_into_view_if_needed()
    shots(page, "episode")


def test_executions_page_and_one_execution_state_by_state(console, page, recorded, shots):
    pipeline, stream = recorded
    open_page(page, console + "/executions")
    row = page.locator("#executions tbody tr", has_text=f"{stream}/segment_00001.ts").first
    assert row.locator(".status").inner_text() == "SUCCEEDED"
    shots(page, "executions")
    row.locator("a").click()
    page.wait_for_selector("#states")
    states = page.locator("#states > li").evaluate_all("items => items.map(i => i.dataset.state)")
    path = [name for name in states if name in ("ValidateSegment", "DetectActivity", "RecordDetection")]
    assert path == ["ValidateSegment", "DetectActivity", "RecordDetection"], states
    record = pipeline.records(stream)[0]
    detect = page.locator('#states li[data-state="DetectActivity"]')
    detect.locator("summary").click()
    assert record["label"] in detect.locator("pre.output").inner_text()


def test_a_failed_execution_shows_the_failed_state_with_error_and_cause(console, page, recorded):
    pipeline, _ = recorded
    stream, key = pipeline.stream_key("segment_00001.ts")
    (execution,) = pipeline.wait(pipeline.upload(key, body=b"\x00" * 5000))
    open_page(page, console + "/executions")
    page.locator(f'#executions tr[data-execution-arn="{execution["executionArn"]}"] a').click()
    page.wait_for_selector("#states")
    assert page.locator("#execution-status").inner_text() == "FAILED"
    validate = page.locator('#states li[data-state="ValidateSegment"]')
    assert "caught" in validate.get_attribute("class")
    assert validate.locator(".failure .error").inner_text() == rejection_error(RejectionReason.NOT_MPEG_TS)
    assert "NOT_MPEG_TS" in validate.locator(".failure .cause").inner_text()
    assert page.locator('#states li[data-state="SegmentFailed"]').get_attribute("class").endswith("failed")


def test_redrive_a_dead_letter_and_watch_it_leave(console, page, stack, segments, shots):
    from tests.e2e.conftest import Pipeline

    pipeline = Pipeline(stack)
    stream, key = pipeline.stream_key("segment_00001.ts")
    pipeline.faults(kind="error", count=1)  # the endpoint fails once: the segment is dead-lettered
    try:
        pipeline.wait(pipeline.upload(key, path=segments["bikes"][0]), timeout_s=WAIT_MS / 1000)
    finally:
        pipeline.faults(clear=True)
    assert pipeline.dead_letters_for(key)

    open_page(page, console + "/dead-letters")
    row = page.locator(f'#dead-letters tr[data-key="{key}"]')
    row.wait_for()
    assert row.locator(".reason").inner_text()
    shots(page, "dead-letters")
    row.locator("button.redrive").click()  # a POST with the page's CSRF token
    page.wait_for_url("**/dead-letters?redrive=started")
    # (a locator, not wait_for_function: the page's Content-Security-Policy forbids evaluating strings)
    page.locator('#redrive-status[data-running="false"]').wait_for(timeout=WAIT_MS)
    status = page.locator("#redrive-status").inner_text()
    assert "1 recorded, 0 still failing" in status, status
    page.locator(f'#dead-letters tr[data-key="{key}"]').wait_for(state="detached", timeout=10_000)
    assert [r["segment_seq"] for r in pipeline.records(stream)] == [1]
    assert not pipeline.dead_letters_for(key)


def test_dead_letters_page_lists_events_the_workflow_never_received(console, page, stack):
    """A message in the events DLQ as EventBridge (and the local rule-targets bridge) writes one: the event as
    the body, the error in message attributes. The page lists it beside the workflow's dead letters, as text."""
    import json

    from contracts import dead_letters
    from devstack import observe
    from tests.conftest import load_event

    key = f"{stack.info['stream_prefix']}/{HOSTILE}/segment_00077.ts"
    event = load_event("s3_object_created.json")
    event["detail"]["object"]["key"] = key
    attributes = {dead_letters.ERROR_CODE: "ExecutionLimitExceeded", dead_letters.ERROR_MESSAGE: HOSTILE,
                  dead_letters.RULE_ARN: "arn:aws:events:us-east-1:123456789012:rule/segments",
                  dead_letters.TARGET_ARN: stack.info["state_machine_arn"]}
    observe.clients(stack.info)["sqs"].send_message(
        QueueUrl=stack.info["events_dlq_url"], MessageBody=json.dumps(event),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()})

    open_page(page, console + "/dead-letters")
    row = page.locator("#undelivered tbody tr").filter(has_text="segment_00077.ts")
    row.wait_for()
    assert row.locator(".reason").inner_text() == "ExecutionLimitExceeded"
    assert row.locator("td.id").inner_text() == key and HOSTILE in row.inner_text()
    assert page.locator('img[src="x"]').count() == 0


def test_redrive_without_the_csrf_token_is_refused(console, stack):
    before = observe_letters(stack)
    reply = requests.post(console + "/dead-letters/redrive", data={"execution_arn": "x"}, timeout=10, allow_redirects=False)
    assert reply.status_code == 400
    assert "CSRF" in reply.text
    assert observe_letters(stack) == before


def observe_letters(stack):
    from devstack import observe

    return sorted(letter.execution_arn for letter in observe.dead_letters(stack.info))


def test_only_local_host_names_are_served_and_pages_carry_a_script_policy(console):
    assert requests.get(console + "/", headers={"Host": "attacker.example"}, timeout=10).status_code == 400
    reply = requests.get(console + "/", timeout=10)
    assert reply.status_code == 200
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]

