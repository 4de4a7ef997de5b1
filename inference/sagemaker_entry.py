"""Entry point for AWS's SageMaker MXNet inference container (``SAGEMAKER_PROGRAM``).

The container imports this module from ``code/`` in ``model.tar.gz`` and calls
``model_fn(model_dir)`` once, then ``transform_fn`` per request.
"""

import json
import os
import sys

# code/ is on sys.path in the container; make the package importable from here too.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inference import errors  # noqa: E402
from inference.service import InferenceService  # noqa: E402

JSON = "application/json"


def model_fn(model_dir):
    return InferenceService(model_dir)


def _client_error(status, message):
    try:  # the container's toolkit turns this into an HTTP status other than 500
        from sagemaker_inference.errors import GenericInferenceToolkitError

        return GenericInferenceToolkitError(status, message)
    except ImportError:
        return ValueError(message)


def invoke(model, request_body, content_type):
    """Run one request; returns ``(HTTP status, JSON body)``. Shared with the local server."""
    if content_type and JSON not in content_type:
        return 415, json.dumps({"error": errors.INVALID_REQUEST, "message": "send application/json"})
    try:
        if isinstance(request_body, (bytes, bytearray)):
            request_body = request_body.decode("utf-8")
        request = json.loads(request_body)
    except ValueError as error:
        return 400, json.dumps({"error": errors.INVALID_REQUEST, "message": "the body is not JSON: {}".format(error)})
    try:
        return 200, json.dumps(model.handle(request))
    except errors.InferenceError as error:
        return error.status, json.dumps(error.to_dict())


def transform_fn(model, request_body, content_type, accept):
    status, body = invoke(model, request_body, content_type)
    if status != 200:
        raise _client_error(status, body)
    return body, JSON
