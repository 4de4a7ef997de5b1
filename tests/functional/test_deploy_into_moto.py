"""The program deployed into moto through boto3 creates every resource, the observability, alerting and
live-source ones included, with requests botocore's client validation accepts."""

import os

import boto3
import pytest

from devstack.deploy import CREATED_FROM_API_PARAMS, deploy


@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    from devstack.bridges import bucket_policy
    from devstack.stack import free_port

    bucket_policy.install()  # the TLS-only bucket policy would deny the uploads (see the bridge)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployed(moto_server, model_dir):
    video = os.path.join(os.path.dirname(__file__), "..", "..", "videos", "README.md")
    outputs, mocks = deploy(
        moto_server,
        stack="dev",
        overrides={
            "alertEmail": "ops@example.com", "watchActivities": ["Skiing"], "liveSourceEnabled": True,
            "liveSourceVideo": os.path.abspath(video), "modelDir": model_dir,
        },
    )
    return outputs, mocks, moto_server


def client(url, service):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def test_every_declared_resource_was_created_none_only_recorded(deployed):
    _, mocks, _ = deployed
    kinds = {d.typ for d in mocks.deployed if not d.typ.startswith("activity-detection:")}
    assert CREATED_FROM_API_PARAMS <= kinds
    assert all(d.created for d in mocks.deployed if not d.typ.startswith("activity-detection:"))


def test_live_source_scaling_alarms_dashboard_topics_and_keys_exist_in_moto(deployed):
    outputs, _, url = deployed
    (channel,) = client(url, "medialive").list_channels()["Channels"]
    assert channel["Id"] == outputs["medialive_channel_id"] and channel["ChannelClass"] == "SINGLE_PIPELINE"
    assert len(client(url, "medialive").list_inputs()["Inputs"]) == 1
    scaling = client(url, "application-autoscaling")
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{outputs['endpoint_name']}/variant/AllTraffic-ml-c5-xlarge"
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    alarms = client(url, "cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) == 7 and all(a["AlarmActions"] for a in alarms)  # + streams-stalled (episodes)
    assert client(url, "cloudwatch").get_dashboard(DashboardName=outputs["dashboard_name"])["DashboardBody"]
    topics = client(url, "sns").list_topics()["Topics"]
    assert len(topics) == 2
    kms = client(url, "kms")
    keys = {k["KeyArn"] for k in kms.list_keys()["Keys"]}
    for topic in topics:
        attributes = client(url, "sns").get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]
        assert attributes["KmsMasterKeyId"] in keys
        assert kms.get_key_rotation_status(KeyId=attributes["KmsMasterKeyId"])["KeyRotationEnabled"] is True


def test_the_local_endpoint_runs_one_worker_with_this_machines_cores(deployed):
    """The local stack's "instance" is this machine (devstack.deploy); AWS's default is one worker per vCPU."""
    _, _, url = deployed
    sagemaker = client(url, "sagemaker")
    (model,) = sagemaker.list_models()["Models"]
    environment = sagemaker.describe_model(ModelName=model["ModelName"])["PrimaryContainer"]["Environment"]
    cores = len(os.sched_getaffinity(0))
    assert (environment["SAGEMAKER_MODEL_SERVER_WORKERS"], environment["OMP_NUM_THREADS"]) == ("1", str(cores))
