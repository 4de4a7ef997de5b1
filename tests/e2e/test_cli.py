"""The CLI as a user runs it: separate processes, in a shell with no AWS variables, against `devstack up`.

One ``up`` process serves the module (its own state folder); the last test stops it with SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from videos.samples import sample_path

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clean_env(home: str) -> dict[str, str]:
    """The user's shell without any AWS variable, and a HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "DEVSTACK_STATE_DIR"}
    env["HOME"] = home
    env["PYTHONPATH"] = ROOT
    return env


class Cli:
    def __init__(self, state_dir: str, env: dict[str, str]):
        self.state_dir = state_dir
        self.env = env

    def __call__(self, *args: str, state_dir: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "devstack", *args]
        if args and args[0] not in ("--help",):
            command += ["--state-dir", state_dir or self.state_dir]
        return subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s} s")


@pytest.fixture(scope="module")
def up(model_dir, tmp_path_factory):
    """``python -m devstack up`` in a clean environment; yields (process, Cli)."""
    home = str(tmp_path_factory.mktemp("home"))
    state_dir = str(tmp_path_factory.mktemp("cli-stack"))
    env = clean_env(home)
    log = open(os.path.join(state_dir, "up.out"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up", "--state-dir", state_dir],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    stack_file = os.path.join(state_dir, "stack.json")
    try:
        wait_until(lambda: os.path.exists(stack_file) or process.poll() is not None, 300, "the stack came up")
        assert process.poll() is None, open(os.path.join(state_dir, "up.out")).read()
        yield process, Cli(state_dir, env)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)
        log.close()


def test_every_command_works_without_aws_variables(up, tmp_path):
    _, cli = up
    stream = f"cli-{uuid.uuid4().hex[:6]}"
    streamed = cli("stream", sample_path("bikes.mp4"), "--stream-id", stream)
    assert streamed.returncode == 0, streamed.stderr
    assert f"results --stream-id {stream}" in streamed.stdout  # says how to see the results

    folder = tmp_path / "recordings"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    shutil.copy(sample_path("bikes.mp4"), folder / "a" / "cam.mp4")
    shutil.copy(sample_path("bikes.mp4"), folder / "b" / "cam.mp4")
    (folder / "a" / "notes.txt").write_text("not a video\n")
    backfilled = cli("backfill", str(folder / "a"), str(folder / "b"))
    # The non-video is skipped with a message; both same-named videos upload, each to its own stream.
    assert backfilled.returncode == 1 and "Traceback" not in backfilled.stderr, backfilled.stderr
    assert "skipped" in backfilled.stderr and "notes.txt" in backfilled.stderr
    assert "a/cam: 1 segments" in backfilled.stdout and "b/cam: 1 segments" in backfilled.stdout, backfilled.stdout

    from devstack.stack import STACK_KEYS

    assert set(json.load(open(os.path.join(cli.state_dir, "stack.json")))) == set(STACK_KEYS)
    results = cli("results", "--stream-id", stream, "--json")
    assert results.returncode == 0, results.stderr
    (record,) = json.loads(results.stdout)
    assert record["stream_id"] == stream
    listed = cli("streams", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {stream: 1, "a/cam": 1, "b/cam": 1}.items() <= json.loads(listed.stdout).items()

    for command in (("dlq",), ("dlq", "--json"), ("trace",), ("redrive",), ("results", "--stream-id", stream, "--clips")):
        result = cli(*command)
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
    # The stack's bus always exists (episodes, stream health): alerts prints its events, here none for a watch list.
    alerts = cli("alerts", "--json")
    assert alerts.returncode == 0 and "Traceback" not in alerts.stderr, alerts.stderr
    episodes = cli("events", "--stream-id", stream, "--json")
    assert episodes.returncode == 0, episodes.stderr
    assert {json.loads(line)["stream_id"] for line in episodes.stdout.splitlines()} <= {stream}


def test_mistakes_are_one_line_errors(up, tmp_path):
    _, cli = up
    assert_one_line_error(cli("trace", "bogus"), "not an execution ARN")
    unknown = "arn:aws:states:us-east-1:123456789012:execution:nothing:here"
    assert_one_line_error(cli("trace", unknown))
    assert_one_line_error(cli("stream", str(tmp_path / "missing.mp4"), "--stream-id", "x"), "no such file")
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_line_error(cli("stream", str(tmp_path / "notes.txt"), "--stream-id", "x"), "not a video")
    assert_one_line_error(cli("backfill", str(tmp_path / "nowhere")), "no such file or folder")
    assert_one_line_error(cli("results", "--stream-id", "never-streamed"), "no records", "streams")
    assert_one_line_error(cli("results", "--stream-id", "x", "--aws"), "--table")

    # Output into a pipe nobody reads: no BrokenPipeError traceback.
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "streams", "--state-dir", cli.state_dir],
        cwd=ROOT, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(120)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_no_stack_and_stale_stack(up, tmp_path):
    _, cli = up
    assert_one_line_error(cli("dlq", state_dir=str(tmp_path / "none")), "no local stack running")
    stale = tmp_path / "stale"
    stale.mkdir()
    shutil.copy(os.path.join(cli.state_dir, "stack.json"), stale / "stack.json")  # a stack that is not running here
    for command in (("results", "--stream-id", "x"), ("stream", sample_path("bikes.mp4"), "--stream-id", "x")):
        assert_one_line_error(cli(*command, state_dir=str(stale)), "no local stack running")


def test_second_up_or_demo_refuses_and_the_first_keeps_serving(up):
    process, cli = up
    before = open(os.path.join(cli.state_dir, "stack.json")).read()
    for command in (("up",), ("demo", sample_path("bikes.mp4"))):
        assert_one_line_error(cli(*command, timeout=60), "already running", str(process.pid))
    assert open(os.path.join(cli.state_dir, "stack.json")).read() == before
    assert cli("dlq").returncode == 0


def test_a_dead_endpoint_is_reported_shown_failed_and_restarted(up):
    import boto3

    process, cli = up
    info = json.load(open(os.path.join(cli.state_dir, "stack.json")))
    sagemaker = boto3.client("sagemaker", endpoint_url=info["endpoint_url"], region_name=info["region"],
                             aws_access_key_id="testing", aws_secret_access_key="testing")

    def status():
        return sagemaker.describe_endpoint(EndpointName=info["endpoint_name"])

    def endpoint_servers():  # the local AWS server's children also include Lambda workers
        folder = os.path.join("endpoints", info["endpoint_name"])
        return [pid for pid in children(info["pid"]) if folder in open(f"/proc/{pid}/cmdline").read().replace("\0", " ")]

    (server,) = endpoint_servers()
    os.kill(server, signal.SIGKILL)
    wait_until(lambda: status()["EndpointStatus"] == "Failed", 30, "DescribeEndpoint shows Failed")
    assert "exited with code -9" in status()["FailureReason"]
    wait_until(lambda: status()["EndpointStatus"] == "InService", 240, "the endpoint restarted")
    (restarted,) = endpoint_servers()
    assert restarted != server
    log = open(os.path.join(cli.state_dir, "up.out")).read()
    assert f"endpoint {info['endpoint_name']} is Failed: the model server exited with code -9" in log
    stream = f"back-{uuid.uuid4().hex[:6]}"
    assert cli("stream", sample_path("bikes.mp4"), "--stream-id", stream).returncode == 0
    wait_until(lambda: cli("results", "--stream-id", stream).returncode == 0, 180, "the new segment was recorded")


def test_sigterm_stops_the_local_aws_and_the_endpoint(up):
    """Last: stops the module's stack."""
    process, cli = up
    info = json.load(open(os.path.join(cli.state_dir, "stack.json")))
    moto_pid = info["pid"]
    endpoints = children(moto_pid)
    assert endpoints, "the model server runs under the local AWS server"
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    for pid in [moto_pid, *endpoints]:
        wait_until(lambda: not alive(pid), 30, f"process {pid} stopped")
    assert not os.path.exists(os.path.join(cli.state_dir, "stack.json"))
    assert_one_line_error(cli("dlq"), "no local stack running")
