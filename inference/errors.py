"""Client errors: each has a machine-readable code, an HTTP status and a human message."""

from typing import Any, Dict


class InferenceError(Exception):
    """A request the endpoint refuses; the server answers ``status`` with :meth:`to_dict`."""

    status = 400

    def __init__(self, code: str, message: str, status: int = 400, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details

    def to_dict(self) -> Dict[str, Any]:
        body = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


# The codes, for callers that branch on them.
INVALID_REQUEST = "invalid_request"
BUCKET_NOT_ALLOWED = "bucket_not_allowed"
OBJECT_NOT_FOUND = "object_not_found"
OBJECT_REPLACED = "object_replaced"
NOT_A_VIDEO = "not_a_video"
SEGMENT_TOO_LONG = "segment_too_long"
SEGMENT_TOO_LARGE = "segment_too_large"
RESOLUTION_TOO_LARGE = "resolution_too_large"
CORRUPT_VIDEO = "corrupt_video"
INTERNAL_ERROR = "internal_error"
