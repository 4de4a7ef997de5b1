"""The local Lambda runtime: one warm function instance in its own process.

Run by :mod:`devstack.lambda_workers` as ``python -P lambda_runtime.py HANDLER``
with the unpacked code archive as working directory and ``PYTHONPATH``, and
the function's environment as the process's environment, as Lambda's Python
runtime runs it. Standard library only: the function's own code is the only
project code this process imports.

Protocol: one JSON object per line on stdin (``{"event": ..., "context": {...}}``),
one per line on the original stdout (``{"result": ...}`` or ``{"error": {...}}``);
the function's own output (its logs) goes to stderr.
"""

import importlib
import json
import os
import sys
import time
import traceback


class Context:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, fields):
        self.function_name = fields["function_name"]
        self.function_version = fields.get("function_version", "$LATEST")
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = int(fields["memory_limit_in_mb"])
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "local"
        self._deadline = time.time() + float(fields["timeout_s"])

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


def error_payload(error, error_type=None, message=None):
    return {
        "errorMessage": message if message is not None else str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
    }


def load(handler_name):
    module_name, attribute = handler_name.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InitError(error, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    return getattr(module, attribute)


class InitError(Exception):
    def __init__(self, error, error_type, message):
        super().__init__(message)
        self.payload = error_payload(error, error_type, message)


def main(argv):
    handler_name = argv[0]
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # print() and logging in the function go to the log, not to the protocol
    sys.stdout = sys.stderr
    # Init, as Lambda's runtime does before the first event: import the handler's module.
    handler, init_error = None, None
    try:
        handler = load(handler_name)
    except InitError as error:
        init_error = error
    except Exception as error:  # an error at import time: reported with each invocation
        init_error = InitError(error, type(error).__name__, str(error))
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if init_error is not None:
                raise init_error
            reply = {"result": handler(request["event"], Context(request["context"]))}
            reply = json.loads(json.dumps(reply))  # what the function returns must be JSON
        except InitError as error:
            reply = {"error": error.payload}
        except Exception as error:  # a function error, reported as Lambda reports it
            reply = {"error": error_payload(error)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
