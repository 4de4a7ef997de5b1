"""``aws-sdk:sagemakerruntime`` in moto's Step Functions interpreter.

The gaps (moto 5.2.5): the interpreter fails on ``aws-sdk:sagemakerruntime``
("Unknown service": botocore knows ``sagemaker-runtime``); it leaves the
response's streaming ``Body`` unread (so ``States.StringToJson($.Body)``
fails); it names SDK errors ``sagemakerruntime.…`` where AWS uses
``SageMakerRuntime.…``.

Error names (see ``state_machine.definition``): botocore's sagemaker-runtime
model has no ``ThrottlingException``; a throttled call is an unmodelled error,
reported ``SageMakerRuntime.SageMakerRuntimeException`` as the SDK behind Step
Functions does (``sdk`` naming, the default). With ``code`` naming (runtime
setting ``sdk_error_naming``), errors are named by their code
(``SageMakerRuntime.ThrottlingException``). Tests drive both.
"""

from __future__ import annotations

from devstack.bridges._support import argument, bridge_settings, is_installed, mark, require_moto

TESTED_MOTO = ("5.2.5",)
#: Step Functions' service name -> botocore's, and -> the prefix of its error names.
BOTO_SERVICE_NAMES = {"sagemakerruntime": "sagemaker-runtime"}
ERROR_SERVICE_NAMES = {"sagemakerruntime": "SageMakerRuntime"}


def code_error_name(service_name: str, code: str) -> str:
    name = f"{service_name}.{code or 'Unknown'}"
    return name if name.endswith("Exception") else name + "Exception"


def install() -> None:
    require_moto(__name__, TESTED_MOTO)
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk as sdk

    cls = sdk.StateTaskServiceAwsSdk
    if is_installed(cls._eval_service_task, __name__):
        return
    original_service_name = cls._get_boto_service_name
    original_eval = cls._eval_service_task
    original_error_service_name = cls._normalise_service_error_name
    original_exception_name = cls._normalise_exception_name

    def _get_boto_service_name(*args, **kwargs):
        name = original_service_name(*args, **kwargs)
        return BOTO_SERVICE_NAMES.get(name, name)

    def _eval_service_task(*args, **kwargs):
        original_eval(*args, **kwargs)
        response = argument(original_eval, "env", args, kwargs).stack[-1]
        if isinstance(response, dict):
            for key, value in list(response.items()):
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8")

    def _normalise_service_error_name(*args, **kwargs):
        service_name = argument(original_error_service_name, "service_name", args, kwargs)
        return ERROR_SERVICE_NAMES.get(service_name.lower()) or original_error_service_name(*args, **kwargs)

    def _normalise_exception_name(*args, **kwargs):
        error = argument(original_exception_name, "ex", args, kwargs)
        if isinstance(error, ClientError) and bridge_settings()["sdk_error_naming"] == "code":
            service_name = argument(original_exception_name, "norm_service_name", args, kwargs)
            return code_error_name(service_name, error.response.get("Error", {}).get("Code"))
        return original_exception_name(*args, **kwargs)

    cls._get_boto_service_name = _get_boto_service_name
    cls._eval_service_task = mark(_eval_service_task, __name__, original_eval)
    cls._normalise_service_error_name = staticmethod(_normalise_service_error_name)
    cls._normalise_exception_name = staticmethod(_normalise_exception_name)
