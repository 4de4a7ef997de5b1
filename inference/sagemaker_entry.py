"""Entry point for AWS's SageMaker MXNet inference container (``SAGEMAKER_PROGRAM``).

The container (Multi Model Server + the SageMaker inference toolkits) imports
this module from ``code/`` in ``model.tar.gz``, with ``code/`` on its path,
calls ``model_fn(model_dir)`` once per worker, then ``transform_fn`` per request.

``transform_fn`` takes the toolkit's ``context`` (sagemaker-inference >= 1.9
passes it to a handler with one more parameter) and sets the HTTP status on it,
so a refused request answers the service's JSON error alone. Raising would
also work, but the toolkit then appends a Python traceback to the body. An
older toolkit calls it without a context: then it raises, as the toolkit
expects.
"""

from inference.service import InferenceService, respond

JSON = "application/json"


def model_fn(model_dir):
    return InferenceService(model_dir)


def transform_fn(model, request_body, content_type, accept, context=None):
    status, body = respond(model, request_body, content_type)
    if status != 200:
        if context is None:
            from sagemaker_inference.errors import GenericInferenceToolkitError

            raise GenericInferenceToolkitError(status, body)
        context.set_response_status(code=status, phrase=_PHRASES.get(status, "Error"))
    return body, JSON


_PHRASES = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
