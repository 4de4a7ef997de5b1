"""Links into the AWS Management Console, whose host depends on the partition.

The commercial partition's console is ``<region>.console.aws.amazon.com``; China's is
``console.amazonaws.cn`` and GovCloud's ``console.amazonaws-us-gov.com`` (no region in the
host; the region travels as the ``region`` query parameter in all three). The isolated
partitions (``aws-iso*``) have no public console host, so no link is made there.
"""

from __future__ import annotations

from urllib.parse import quote

#: Console host per partition; ``{region}`` is filled in.
CONSOLE_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
NO_CONSOLE = "no public console for partition {partition}"


def executions_console_url(partition: str, region: str, state_machine_arn: str) -> str:
    """The Step Functions console's execution list for one state machine (its Express executions included)."""
    host = CONSOLE_HOSTS.get(partition)
    if host is None:
        return NO_CONSOLE.format(partition=partition)
    return (
        f"https://{host.format(region=region)}/states/home?region={region}"
        f"#/v2/executions/list?stateMachineArn={quote(state_machine_arn, safe=':/')}"
    )
