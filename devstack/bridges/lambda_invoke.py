"""Lambda functions run locally from their deployed code archive.

The gap (moto 5.2.5): moto runs functions only in Docker; with
``lambda.use_docker=False`` it returns canned text. Here the deployed
function's handler runs from its own code archive with its own environment,
in a warm instance process (``devstack.lambda_workers``), and its result or
error is returned as Lambda returns it (``X-Amz-Function-Error: Unhandled``
with ``errorMessage``/``errorType``/``stackTrace``).
"""

from __future__ import annotations

import json
import os

from devstack.bridges._support import argument, is_installed, mark, require_moto
from devstack.lambda_workers import WORKERS, FunctionCode

TESTED_MOTO = ("5.2.5",)


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke
    if is_installed(original, __name__):
        return

    def invoke(*args, **kwargs):
        backend = args[0]
        fn = backend.get_function(
            argument(original, "function_name", args, kwargs), argument(original, "qualifier", args, kwargs)
        )
        body = argument(original, "body", args, kwargs)
        response_headers = argument(original, "response_headers", args, kwargs)
        reply = WORKERS.invoke(
            FunctionCode.of(fn, backend.region_name),
            fn.code_bytes,
            json.loads(body) if body else {},
            f"http://127.0.0.1:{os.environ['MOTO_PORT']}",
        )
        if "error" in reply:
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(reply["error"])
        else:
            payload = json.dumps(reply["result"])
        response_headers["Content-Length"] = str(len(payload))
        return payload.encode("utf-8")

    LambdaSimpleBackend.invoke = mark(invoke, __name__, original)
