"""The console link follows the partition (finding 6 of the AWS-contract issue)."""

import pytest

from infra.console_links import NO_CONSOLE, executions_console_url


@pytest.mark.parametrize(
    "partition,region,host",
    [
        ("aws", "eu-west-1", "https://eu-west-1.console.aws.amazon.com/"),
        ("aws-cn", "cn-north-1", "https://console.amazonaws.cn/"),
        ("aws-us-gov", "us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
    ],
)
def test_each_partition_links_to_its_own_console(partition, region, host):
    arn = f"arn:{partition}:states:{region}:123456789012:stateMachine:sm"
    url = executions_console_url(partition, region, arn)
    assert url.startswith(host)
    assert f"region={region}" in url and url.endswith(f"stateMachineArn={arn}")


def test_a_partition_without_a_public_console_gets_no_link():
    assert executions_console_url("aws-iso", "us-iso-east-1", "arn") == NO_CONSOLE.format(partition="aws-iso")
