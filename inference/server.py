"""SageMaker's hosting contract over HTTP: ``GET /ping`` and ``POST /invocations`` on port 8080.

``python -m inference.server --model-dir DIR [--port 8080] [--allow-faults]``

This is what a bring-your-own-container image would run, and what the local
stack runs behind its SageMaker endpoint. Requests are served on threads;
the model's forward pass runs one at a time (see ``InferenceService``).

With ``--allow-faults`` (tests and the local stack only), ``POST /_faults``
scripts failures of the next calls, to exercise the workflow's retries::

    {"kind": "throttle", "count": 2}          # answer 429 twice
    {"kind": "throttle", "rate": 0.3}         # 30% of calls, until cleared
    {"kind": "unavailable" | "error", ...}    # 503 | 500
    {"kind": "down", "count": 1}              # close the connection without answering
    {"kind": "slow", "delay_s": 30, "count": 1}
    {"clear": true}
"""

import argparse
import json
import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

from inference import runtime  # noqa: F401

LOG = logging.getLogger("inference.server")

FAULT_STATUS = {"throttle": 429, "unavailable": 503, "error": 500}


class FaultPlan:
    """Scripted failures, consumed by invocations in arrival order."""

    def __init__(self, seed: int = 0):
        self.rules: List[Dict[str, Any]] = []
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def add(self, rule: Dict[str, Any]) -> None:
        if rule.get("clear"):
            with self.lock:
                self.rules = []
            return
        kind = rule.get("kind")
        if kind not in FAULT_STATUS and kind not in ("slow", "down"):
            raise ValueError("kind must be one of: {}".format(", ".join(sorted(list(FAULT_STATUS) + ["down", "slow"]))))
        if "seed" in rule:
            self.random.seed(rule["seed"])
        with self.lock:
            self.rules.append(dict(rule))

    def next_fault(self) -> Optional[Dict[str, Any]]:
        with self.lock:
            for rule in self.rules:
                if rule.get("count") is not None and rule["count"] <= 0:
                    continue
                if self.random.random() >= float(rule.get("rate", 1.0)):
                    continue
                if rule.get("count") is not None:
                    rule["count"] -= 1
                return dict(rule)
        return None


class InferenceHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, model, allow_faults: bool = False):
        super().__init__(address, InvocationHandler)
        self.model = model
        self.allow_faults = allow_faults
        self.faults = FaultPlan()
        self.stats = {"invocations": 0, "faults": 0, "errors": 0}
        self.stats_lock = threading.Lock()

    def count(self, name: str) -> None:
        with self.stats_lock:
            self.stats[name] += 1


class InvocationHandler(BaseHTTPRequestHandler):
    server: InferenceHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # route through logging, quietly
        LOG.debug(fmt, *args)

    def _reply(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/ping":
            self._reply(200, json.dumps({"status": "healthy", "model": self.server.model.predictor.identity}))
        elif self.path == "/_stats" and self.server.allow_faults:
            self._reply(200, json.dumps(self.server.stats))
        else:
            self._reply(404, json.dumps({"error": "not_found", "message": "GET /ping only"}))

    def do_POST(self):
        from inference.service import respond as invoke

        body = self._body()
        if self.path == "/_faults" and self.server.allow_faults:
            try:
                self.server.faults.add(json.loads(body or b"{}"))
            except ValueError as error:
                self._reply(400, json.dumps({"error": "invalid_request", "message": str(error)}))
                return
            self._reply(200, json.dumps({"rules": self.server.faults.rules}))
            return
        if self.path != "/invocations":
            self._reply(404, json.dumps({"error": "not_found", "message": "POST /invocations only"}))
            return
        self.server.count("invocations")
        fault = self.server.faults.next_fault() if self.server.allow_faults else None
        if fault:
            self.server.count("faults")
            if fault["kind"] == "slow":
                time.sleep(float(fault.get("delay_s", 1)))
            elif fault["kind"] == "down":
                self.close_connection = True  # as a crashed container: no answer at all
                return
            else:
                self._reply(
                    FAULT_STATUS[fault["kind"]],
                    json.dumps({"error": "injected_" + fault["kind"], "message": "fault injected for testing"}),
                )
                return
        try:
            status, response = invoke(self.server.model, body, self.headers.get("Content-Type"))
        except Exception as error:  # keep serving: report and carry on
            LOG.exception("invocation failed")
            self.server.count("errors")
            status, response = 500, json.dumps({"error": "internal_error", "message": str(error)})
        self._reply(status, response)


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8080, allow_faults: bool = False) -> InferenceHTTPServer:
    """Load the model and return a started-on-call server (call ``serve_forever``)."""
    from inference.service import InferenceService as model_fn

    return InferenceHTTPServer((host, port), model_fn(model_dir), allow_faults=allow_faults)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.server", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="/opt/ml/model")
    # SageMaker sends requests to the container from outside it: the hosting contract needs all interfaces.
    parser.add_argument("--host", default="0.0.0.0")  # nosec B104
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--allow-faults", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = serve(args.model_dir, args.host, args.port, args.allow_faults)
    LOG.info("serving %s on %s:%d", args.model_dir, args.host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
