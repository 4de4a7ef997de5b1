"""DynamoDB's conditional writes are atomic; moto's are not under concurrent requests.

The gap (moto 5.2.5): the server handles requests on threads, and a
``PutItem``/``UpdateItem``/``DeleteItem`` with a condition, or a
``TransactWriteItems``, checks its conditions and then writes, with nothing
in between held: two requests can both pass a version check and both write.
DynamoDB evaluates a condition and applies the write atomically, and the
episodes fold relies on it (one commit per version of a stream's state). Here
every write to the DynamoDB backend holds one lock.
"""

from __future__ import annotations

import threading

from devstack.bridges._support import is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
LOCK = threading.RLock()


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        original = getattr(DynamoDBBackend, name)
        if is_installed(original, __name__):
            continue

        def atomic(*args, _original=original, **kwargs):
            with LOCK:
                return _original(*args, **kwargs)

        setattr(DynamoDBBackend, name, mark(atomic, __name__, original))
