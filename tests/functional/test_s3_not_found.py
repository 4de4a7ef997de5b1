"""A missing segment is 404 to the roles the program declares, and 403 to the same role without
s3:ListBucket, as S3 answers (the local stack's s3_not_found bridge over moto, which answers 404 to anyone)."""

import json
import os

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack.bridges import bucket_policy, s3_not_found
from infra.program_runner import run_program
from tests.pulumi_mocks import RecordingMocks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def declared(model_dir):
    mocks = RecordingMocks()
    run_program(mocks, "dev", {"liveSourceVideo": os.path.join(ROOT, "videos", "README.md"), "modelDir": model_dir})
    policies = {d.inputs["role"]: json.loads(d.inputs["policy"]) for d in mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
    bucket = mocks.one("aws:s3/bucket:Bucket", "livestream").inputs["bucket"]
    tls_only = json.loads(mocks.one("aws:s3/bucketPolicy:BucketPolicy", "livestream").inputs["policy"])
    return policies, bucket, tls_only


def without_listing(document):
    return {**document, "Statement": [s for s in document["Statement"] if "s3:ListBucket" not in s["Action"]]}


def status_for(document, bucket, tls_only, key):
    with mock_aws():
        s3_not_found.install()
        bucket_policy.install()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only))
        iam = boto3.client("iam", region_name="us-east-1")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName="reader", PolicyName="p", PolicyDocument=json.dumps(document))
        credentials = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=role, RoleSessionName="reader-session")["Credentials"]
        reader = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"],
        )
        statuses = []
        for call in (reader.head_object, reader.get_object):
            try:
                call(Bucket=bucket, Key=key)
                statuses.append(200)
            except ClientError as error:
                statuses.append(int(error.response["ResponseMetadata"]["HTTPStatusCode"]))
        return statuses


@pytest.mark.parametrize("role", ["activity-detection-dev-lambda", "activity-detection-dev-sagemaker"])
def test_a_missing_segment_is_404_with_the_declared_policy_and_403_without_list_bucket(declared, role):
    policies, bucket, tls_only = declared
    key = "live/cam-1/segment_00042.ts"
    assert status_for(policies[role], bucket, tls_only, key) == [404, 404]
    assert status_for(without_listing(policies[role]), bucket, tls_only, key) == [403, 403]


def test_the_listing_grant_is_limited_to_the_stream_prefix(declared):
    policies, bucket, _ = declared
    document = policies["activity-detection-dev-lambda"]
    assert s3_not_found.may_list([document], bucket, "live/cam-1/segment_00042.ts")
    assert not s3_not_found.may_list([document], bucket, "elsewhere/segment_00042.ts")
    assert not s3_not_found.may_list([without_listing(document)], bucket, "live/cam-1/segment_00042.ts")
