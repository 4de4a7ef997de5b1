"""A switch for tests, not a gap: DynamoDB PutItem throttling on demand.

moto never throttles. With the runtime setting ``dynamodb_put_throttle`` =
``{"id": ..., "count": n}`` the next n PutItem calls answer
``ProvisionedThroughputExceededException``, as a throttled table does.
"""

from __future__ import annotations

from devstack.bridges._support import is_installed, mark, require_moto, take_fault

TESTED_MOTO = ("5.2.5",)
SETTING = "dynamodb_put_throttle"


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.put_item
    if is_installed(original, __name__):
        return

    def put_item(*args, **kwargs):
        if take_fault(SETTING):
            raise DynamodbException(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        return original(*args, **kwargs)

    DynamoDBBackend.put_item = mark(put_item, __name__, original)
