"""StartSyncExecution: an Express workflow run to its end within the request, as AWS answers it.

The gap (moto 5.2.5): moto's Step Functions responses have no
``StartSyncExecution`` (the interpreter it borrows has a synchronous execution
worker, but nothing routes the call to it). The intake's starter
(``lambdas.start_workflow``) calls it for every segment.

Bridge: the call runs the state machine's definition in moto's interpreter on
the request's thread, with the same snapshot-of-the-definition semantics as
moto's ``StartExecution``, and answers as AWS does: ``status`` SUCCEEDED,
FAILED or TIMED_OUT; ``output`` on success; ``error``/``cause`` on failure. The
execution is listed beside the asynchronous ones (so ``DescribeExecution`` and
the execution-logs bridge see it). A name used before is refused, as AWS
refuses a name reused within the Express idempotency window.
"""

from __future__ import annotations

import copy
import datetime
import json
import uuid

from moto.core.exceptions import AWSError

from devstack.bridges._support import is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)


class StateMachineTypeNotSupported(AWSError):
    TYPE = "StateMachineTypeNotSupported"
    STATUS = 400

    def __init__(self) -> None:
        super().__init__("This operation is not supported by this type of state machine")


def start_sync_execution(backend, state_machine_arn: str, name: str | None, execution_input: str | None) -> dict:
    """Run one execution of ``state_machine_arn`` to its end; StartSyncExecution's reply."""
    from moto.stepfunctions.exceptions import InvalidExecutionInput, InvalidName
    from moto.stepfunctions.parser.backend.execution import SyncExecution

    state_machine = backend.describe_state_machine(state_machine_arn)
    if state_machine.type != "EXPRESS":  # moto keeps the declared type in .type (its .sm_type is always STANDARD)
        raise StateMachineTypeNotSupported()
    try:
        json.loads(execution_input or "{}")
    except ValueError as error:
        raise InvalidExecutionInput(str(error))
    name = name or uuid.uuid4().hex
    arn = f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:execution:{state_machine.name}:{name}"
    if any(e.execution_arn == arn for e in state_machine.executions):
        raise InvalidName(f"Execution Already Exists: '{arn}'")
    # As StartExecution does: the execution runs on a snapshot of the definition, sharing the backend.
    snapshot = copy.deepcopy(state_machine, {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend})
    execution = SyncExecution(
        name=name, sm_type=snapshot.sm_type, role_arn=snapshot.roleArn, exec_arn=arn,
        account_id=backend.account_id, region_name=backend.region_name, state_machine=snapshot,
        start_date=datetime.datetime.now(tz=datetime.timezone.utc), cloud_watch_logging_session=None,
        input_data=execution_input or "{}", trace_header=None, activity_store={},
    )
    state_machine.executions.append(execution)
    execution.start()  # the synchronous worker: returns when the execution ended
    reply = execution.to_start_sync_execution_output()
    reply["status"] = str(getattr(reply["status"], "value", reply["status"]))
    reply["input"] = execution_input or "{}"  # as sent, not re-serialised
    reply["billingDetails"] = {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": int((execution.stop_date - execution.start_date).total_seconds() * 1000) + 1,
    }
    return {key: value for key, value in reply.items() if value is not None}


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    if is_installed(getattr(StepFunctionResponse, "start_sync_execution", None), __name__):
        return

    def response(self) -> ActionResult:
        return ActionResult(start_sync_execution(
            self.stepfunction_backend, self._get_param("stateMachineArn"), self._get_param("name"),
            self._get_param("input", if_none="{}"),
        ))

    StepFunctionResponse.start_sync_execution = mark(response, __name__, None)
