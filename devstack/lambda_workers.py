"""Warm function instances for the Lambda bridge: processes per code version and environment.

Each instance is a :mod:`devstack.lambda_runtime` process that runs the
function's handler from its own unpacked code archive with the function's own
environment, so nothing of one code version or one function's environment
reaches another, or the moto process. Concurrent invocations get more
instances (as Lambda scales out); idle ones are reused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from devstack.bridges._support import state_dir

RUNTIME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lambda_runtime.py")
#: Variables of the moto process that function instances inherit: the interpreter's and the test credentials.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT",
             "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class FunctionCode:
    """What identifies a function instance: its code version, handler and environment."""

    function_name: str
    function_arn: str
    region: str
    handler: str
    code_digest: str
    environment: tuple[tuple[str, str], ...]
    memory_mb: int
    timeout_s: float

    @classmethod
    def of(cls, fn: Any, region: str) -> "FunctionCode":
        return cls(
            function_name=fn.function_name,
            function_arn=fn.function_arn,
            region=region,
            handler=fn.handler,
            code_digest=fn.code_digest,
            environment=tuple(sorted((fn.environment_vars or {}).items())),
            memory_mb=int(fn.memory_size or 128),
            timeout_s=float(fn.timeout or 3),
        )

    @property
    def key(self) -> str:
        identity = json.dumps([self.function_arn, self.handler, self.code_digest, self.environment])
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


class Instance:
    """One runtime process; used by one invocation at a time."""

    def __init__(self, code: FunctionCode, code_dir: str, endpoint_url: str):
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env.update(
            {
                "AWS_REGION": code.region,
                "AWS_DEFAULT_REGION": code.region,
                # The function's SDK calls go to this local AWS, as on AWS they go to the region's endpoints.
                "AWS_ENDPOINT_URL": endpoint_url,
                # Calls with a host prefix (StartSyncExecution's "sync-") keep the local host as given.
                "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
                "AWS_LAMBDA_FUNCTION_NAME": code.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(code.memory_mb),
                "LAMBDA_TASK_ROOT": code_dir,
                "_HANDLER": code.handler,
                "PYTHONPATH": code_dir,
            }
        )
        env.update(dict(code.environment))
        self.log = open(os.path.join(state_dir(), f"lambda-{code.function_name}.log"), "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-P", RUNTIME, code.handler],
            cwd=code_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def invoke(self, event: Any, context: dict[str, Any]) -> dict[str, Any]:
        self.process.stdin.write(json.dumps({"event": event, "context": context}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"Runtime exited with status {self.process.wait()}")
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


class Workers:
    """Idle instances by :attr:`FunctionCode.key`."""

    def __init__(self):
        self.idle: dict[str, list[Instance]] = {}
        self.all: list[Instance] = []
        self.lock = threading.Lock()

    def _code_dir(self, code: FunctionCode, archive: bytes) -> str:
        target = os.path.join(state_dir(), "lambdas", f"{code.function_name}-{code.code_digest[:12]}")
        if not os.path.exists(target):
            partial = f"{target}.{uuid.uuid4().hex}.partial"
            with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:
                unpacked.extractall(partial)  # nosec B202: our own build; zipfile drops absolute and ".." paths
            try:
                os.rename(partial, target)
            except OSError:  # another invocation unpacked it first
                pass
        return target

    def prewarm(self, code: FunctionCode, archive: bytes, endpoint_url: str) -> None:
        """Start one instance ahead of the first invocation (its init runs now, not within a task's timeout)."""
        instance = Instance(code, self._code_dir(code, archive), endpoint_url)
        with self.lock:
            self.all.append(instance)
            self.idle.setdefault(code.key, []).append(instance)

    def invoke(self, code: FunctionCode, archive: bytes, event: Any, endpoint_url: str) -> dict[str, Any]:
        """Run one invocation; returns ``{"result": ...}`` or ``{"error": {...}}`` (Lambda's error payload)."""
        with self.lock:
            pool = self.idle.setdefault(code.key, [])
            instance = pool.pop() if pool else None
        if instance is None:
            instance = Instance(code, self._code_dir(code, archive), endpoint_url)
            with self.lock:
                self.all.append(instance)
        context = {
            "function_name": code.function_name,
            "invoked_function_arn": code.function_arn,
            "memory_limit_in_mb": code.memory_mb,
            "aws_request_id": str(uuid.uuid4()),
            "timeout_s": code.timeout_s,
        }
        try:
            reply = instance.invoke(event, context)
        except (RuntimeError, OSError, ValueError) as error:
            instance.stop()
            with self.lock:
                self.all.remove(instance)
            return {"error": {"errorMessage": str(error), "errorType": "Runtime.ExitError", "stackTrace": []}}
        with self.lock:
            self.idle[code.key].append(instance)
        return reply

    def stop_all(self) -> None:
        with self.lock:
            instances, self.all, self.idle = list(self.all), [], {}
        for instance in instances:
            instance.stop()


WORKERS = Workers()
