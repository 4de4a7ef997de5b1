"""Lambda functions run locally from their deployed code archive.

The gap (moto 5.2.5): moto runs functions only in Docker; with
``lambda.use_docker=False`` it returns canned text. Here the deployed
function's handler runs from its own code archive with its own environment,
in a warm instance process (``devstack.lambda_workers``), and its result or
error is returned as Lambda returns it (``X-Amz-Function-Error: Unhandled``
with ``errorMessage``/``errorType``/``stackTrace``). Creating or updating a
function starts one instance right away, so its init (imports) is not counted
in the first invocation's task timeout (on AWS a cold start takes about a second).
"""

from __future__ import annotations

import json
import os
import threading

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
            _endpoint_url(),
        )
        if "error" in reply:
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(reply["error"])
        else:
            payload = json.dumps(reply["result"])
        response_headers["Content-Length"] = str(len(payload))
        return payload.encode("utf-8")

    for method_name in PREWARMED_BY:
        method = getattr(LambdaSimpleBackend, method_name)
        setattr(LambdaSimpleBackend, method_name, mark(_prewarming(method_name, method), __name__, method))
    LambdaSimpleBackend.invoke = mark(invoke, __name__, original)


#: Backend methods after which the function's (new) code and configuration get a warm instance.
PREWARMED_BY = ("create_function", "update_function_code", "update_function_configuration")


def _prewarming(method_name: str, original):
    def method(*args, **kwargs):
        result = original(*args, **kwargs)
        backend = args[0]
        if method_name == "create_function":
            name = argument(original, "spec", args, kwargs)["FunctionName"]
        else:
            name = argument(original, "function_name", args, kwargs)
        fn = backend.get_function(name, None)
        code = FunctionCode.of(fn, backend.region_name)
        threading.Thread(target=WORKERS.prewarm, args=(code, fn.code_bytes, _endpoint_url()), daemon=True).start()
        return result

    return method


def _endpoint_url() -> str:
    return f"http://127.0.0.1:{os.environ['MOTO_PORT']}"
