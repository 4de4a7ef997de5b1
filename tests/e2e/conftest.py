"""One local stack for the end-to-end tests (moto + bridges + the deployed Pulumi program)."""

import json
import uuid

import pytest

from devstack import observe


@pytest.fixture(scope="session")
def stack(model_dir, tmp_path_factory):
    from devstack.stack import LocalStack

    # A short endpoint timeout so that the slow-endpoint test takes seconds, not minutes
    # (yet long enough for one inference on a busy 2-core machine: there is no timeout retry).
    local = LocalStack(state_dir=str(tmp_path_factory.mktemp("devstack")), overrides={"endpointTimeoutSeconds": 20})
    local.start(log=lambda *_: None)
    yield local
    local.stop()


class Pipeline:
    """Drive the local pipeline: upload, wait for the outcome, read it."""

    def __init__(self, stack):
        self.stack = stack
        self.info = stack.info
        self.clients = observe.clients(self.info)
        self.s3 = self.clients["s3"]
        self.fault_rules: list[dict] = []

    def faults(self, clear: bool = False, **rule):
        """Add a fault rule for the next InvokeEndpoint calls (the bridge answers as SageMaker would), or clear them.

        See ``devstack.bridges.invoke_endpoint`` for the kinds; the endpoint itself has no test hooks.
        """
        self.fault_rules = [] if clear else [*self.fault_rules, {"id": uuid.uuid4().hex, **rule}]
        self.stack.set_bridge(invoke_endpoint_faults=self.fault_rules)

    def stream_key(self, name: str, stream: str | None = None) -> tuple[str, str]:
        stream = stream or f"s-{uuid.uuid4().hex[:8]}"
        return stream, f"{self.info['stream_prefix']}/{stream}/{name}"

    def upload(self, key: str, path: str | None = None, body: bytes | None = None) -> int:
        """Upload and return how many executions existed before, to wait on the next one."""
        before = len(observe.executions(self.info))
        if path:
            self.s3.upload_file(path, self.info["livestream_bucket"], key)
        else:
            self.s3.put_object(Bucket=self.info["livestream_bucket"], Key=key, Body=body)
        return before

    def start(self, event: dict) -> int:
        """Start an execution directly, as a (re)delivery of ``event`` would."""
        before = len(observe.executions(self.info))
        self.clients["stepfunctions"].start_execution(
            stateMachineArn=self.info["state_machine_arn"], name=f"direct-{uuid.uuid4()}", input=json.dumps(event)
        )
        return before

    def all_dead_letters(self):
        return observe.dead_letters(self.info)

    def wait(self, before: int, new: int = 1, timeout_s: float = 120):
        found = observe.wait_for_executions(self.info, before + new, timeout_s)
        return sorted(found, key=lambda e: e["startDate"])[before:]

    def started_before_sentinel(self, before: int) -> list[str]:
        """Keys of the executions started since ``before``, up to a sentinel upload's own execution.

        For uploads that must start none: a sentinel segment is uploaded after them and
        its execution waited for. The local S3 delivers each upload's event before it
        answers, in upload order, so an execution the earlier upload started would be
        there before the sentinel's; no sleeping and hoping. (The sentinel is empty: the
        Lambda rejects it, and its dead letter carries its own key.)
        """
        _, sentinel = self.stream_key("sentinel_00001.ts")
        self.s3.put_object(Bucket=self.info["livestream_bucket"], Key=sentinel, Body=b"")
        started = self.wait(before, new=1)
        sfn = self.clients["stepfunctions"]
        keys = []
        for execution in started:
            event = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
            keys.append(((event.get("detail") or {}).get("object") or {}).get("key"))
        assert sentinel in keys, f"the sentinel's execution did not start: {keys}"
        return [key for key in keys if key != sentinel]

    def dead_letters_for(self, key: str):
        return [d for d in observe.dead_letters(self.info) if d.object_key == key]

    def records(self, stream: str):
        return observe.timeline(self.info, stream)


@pytest.fixture
def pipeline(stack):
    p = Pipeline(stack)
    p.faults(clear=True)
    stack.set_bridge(sdk_error_naming="sdk")
    yield p
    p.faults(clear=True)
