"""Reading the object an event or request names (Lambda and endpoint alike).

S3's classic notifications form-encode keys (``a b+c.ts`` arrives as
``a+b%2Bc.ts``); EventBridge events carry them as stored. A reader tries the
key as given, then decoded the one way S3 encodes it. Both read exactly the
bytes the event announced (:func:`read_condition`) and tell a missing object
from a replaced one by the same error codes. Shipped in model.tar.gz:
Python 3.8.
"""

from typing import Any, Dict, List, Optional
from urllib.parse import unquote_plus

#: Error codes S3 answers for a missing object: HEAD gives a bare 404, and a bare 400 for a
#: version id it does not know (a form-encoded key's version, say).
NOT_FOUND_CODES = ("404", "NoSuchKey", "NotFound", "NoSuchVersion", "400")
#: Error codes of a conditional read whose ``IfMatch`` no longer holds: the key was overwritten.
REPLACED_CODES = ("412", "PreconditionFailed")


def key_candidates(key: str) -> List[str]:
    """The key as given, then form-decoded if that differs."""
    decoded = unquote_plus(key)
    return [key] if decoded == key else [key, decoded]


def read_condition(version_id: Optional[str], etag: Optional[str]) -> Dict[str, str]:
    """The GET/HEAD arguments that read exactly the uploaded bytes an event names.

    A version id names them in a versioned bucket; without one (S3 says ``null``),
    ``IfMatch`` on the event's ETag reads the object only while it still holds those bytes.
    """
    if version_id and version_id != "null":
        return {"VersionId": version_id}
    etag = (etag or "").strip('"')
    return {"IfMatch": '"{}"'.format(etag)} if etag else {}


def _code(error: Any) -> str:
    return error.response.get("Error", {}).get("Code")


def is_not_found(error: Any) -> bool:
    """Whether a botocore ``ClientError`` says the object (or that version of it) does not exist."""
    return _code(error) in NOT_FOUND_CODES


def is_replaced(error: Any) -> bool:
    """Whether a botocore ``ClientError`` says the key no longer holds the bytes asked for."""
    return _code(error) in REPLACED_CODES
