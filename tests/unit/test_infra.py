"""The Pulumi program under Pulumi's mocks: what `pulumi up` would declare, per stack.

run_program sets the mocks before importing __main__.py, runs it inside
@pulumi.runtime.test (which waits for every registration), and the assertions
run afterwards on the recorded, resolved inputs.
"""

import io
import json
import re
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from contracts import records
from infra import archives, policies
from infra.program_runner import run_program
from state_machine.definition import WorkflowTargets, WorkflowTuning, build_definition
from tests.pulumi_mocks import ACCOUNT, RecordingMocks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO = os.path.join(ROOT, "videos", "README.md")  # any existing file stands in for the sample video


def deploy(stack: str, model_dir: str, **overrides) -> tuple[RecordingMocks, dict]:
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack, {"liveSourceVideo": VIDEO, "modelDir": model_dir, **overrides})
    return mocks, outputs


@pytest.fixture(scope="module")
def dev(model_dir):
    return deploy("dev", model_dir)


@pytest.fixture(scope="module")
def prod(model_dir):
    return deploy("prod", model_dir)


def test_program_declares_resources(dev):
    mocks, outputs = dev
    types = {resource.typ for resource in mocks.declared}
    assert {
        "aws:s3/bucket:Bucket", "aws:dynamodb/table:Table", "aws:sqs/queue:Queue", "aws:lambda/function:Function",
        "aws:sfn/stateMachine:StateMachine", "aws:cloudwatch/eventRule:EventRule", "aws:sagemaker/endpoint:Endpoint",
        "aws:medialive/channel:Channel", "aws:cloudwatch/dashboard:Dashboard",
    } <= types
    assert outputs["table_name"] == "activity-detection-dev-detections"


def test_state_machine_is_express_logged_traced_and_built_by_the_shared_builder(dev):
    mocks, outputs = dev
    machine = mocks.one("aws:sfn/stateMachine:StateMachine")
    assert machine.inputs["type"] == "EXPRESS"
    logging_ = machine.inputs["loggingConfiguration"]
    assert logging_["level"] == "ALL" and logging_["includeExecutionData"] is True
    assert logging_["logDestination"].startswith("arn:aws:logs:") and logging_["logDestination"].endswith(":*")
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    function = mocks.one("aws:lambda/function:Function", "validate-segment")
    expected = build_definition(
        WorkflowTargets(
            validate_function_arn=function.outputs["arn"],
            endpoint_name=outputs["endpoint_name"],
            table_name=outputs["table_name"],
            dead_letter_queue_url=outputs["workflow_dlq_url"],
            alert_bus_name=outputs["alert_bus_name"],
            episodes_function_arn=mocks.one("aws:lambda/function:Function", "episodes").outputs["arn"],
        ),
        WorkflowTuning(),
    )
    assert json.loads(machine.inputs["definition"]) == expected


def test_rule_matches_every_upload_under_prefix_and_queues_it_in_the_intake(dev):
    mocks, outputs = dev
    rule = mocks.one("aws:cloudwatch/eventRule:EventRule", "segment-uploaded")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [outputs["livestream_bucket"]]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "live/"}]
    intake = mocks.one("aws:sqs/queue:Queue", "intake-queue")
    target = mocks.one("aws:cloudwatch/eventTarget:EventTarget", "queue-segment")
    assert target.inputs["arn"] == intake.outputs["arn"] and "roleArn" not in target.inputs  # SQS: a queue policy
    assert target.inputs["retryPolicy"]["maximumRetryAttempts"] > 0
    assert target.inputs["deadLetterConfig"]["arn"].endswith(":activity-detection-dev-events-dlq")
    (allow,) = json.loads(mocks.one("aws:sqs/queuePolicy:QueuePolicy", "intake-queue-policy").inputs["policy"])["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == ["sqs:SendMessage"]
    assert allow["Resource"] == [intake.outputs["arn"]]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}}


def test_the_intake_lets_a_bounded_number_of_segments_into_the_workflow(dev):
    from contracts.intake import EXPRESS_LIMIT_SECONDS, IntakeTuning

    mocks, outputs = dev
    tuning = IntakeTuning()
    intake = mocks.one("aws:sqs/queue:Queue", "intake-queue")
    starter = mocks.one("aws:lambda/function:Function", "start-workflow")
    mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == intake.outputs["arn"] and mapping.inputs["functionName"] == starter.outputs["arn"]
    assert mapping.inputs["batchSize"] == 1 and mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    # dev: 2 instances at most x 16 queued each (Pulumi.yaml's autoscalingMaxCapacity, endpointJobQueueSize).
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 2 * 16}
    # The starter waits for a whole Express execution; SQS hides a message 6x the function's timeout.
    assert starter.inputs["timeout"] > EXPRESS_LIMIT_SECONDS
    assert intake.inputs["visibilityTimeoutSeconds"] == 6 * starter.inputs["timeout"]
    assert intake.inputs["receiveWaitTimeSeconds"] == 20 and intake.inputs["sqsManagedSseEnabled"] is True
    redrive = json.loads(intake.inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":activity-detection-dev-events-dlq")
    assert redrive["maxReceiveCount"] > tuning.max_attempts  # the starter's own budget runs out first
    environment = starter.inputs["environment"]["variables"]
    assert environment["STATE_MACHINE_ARN"] == outputs["state_machine_arn"]
    assert environment["INTAKE_QUEUE_URL"] == outputs["intake_queue_url"]
    assert environment["EVENTS_DLQ_URL"] == outputs["events_dlq_url"]


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"intakeMaxConcurrency": 7}, 7),
        ({"autoscalingMaxCapacity": 4, "endpointJobQueueSize": 8}, 32),
        ({"endpointMode": "serverless", "serverlessMaxConcurrency": 5}, 5),
        ({"endpointMode": "serverless", "serverlessMaxConcurrency": 1}, 2),  # the mapping's minimum
    ],
)
def test_intake_concurrency_is_configured_or_what_the_endpoint_holds(model_dir, overrides, expected):
    mocks, _ = deploy("dev", model_dir, **overrides)
    mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": expected}


def test_intake_concurrency_outside_the_mappings_range_is_refused(model_dir):
    with pytest.raises(Exception, match="intakeMaxConcurrency"):
        deploy("dev", model_dir, intakeMaxConcurrency=1)


def _allow_statements(mocks):
    for declared in mocks.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(declared.inputs["policy"])["Statement"]:
            if statement["Effect"] == "Allow":
                yield declared.name, statement


def test_no_wildcard_actions_and_only_documented_wildcard_resources(dev):
    mocks, _ = dev
    statements = list(_allow_statements(mocks))
    assert len(statements) > 10
    for policy, statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert "*" not in action, f"{policy}: wildcard action {action}"
        if "*" in statement["Resource"]:
            undocumented = set(actions) - set(policies.WILDCARD_RESOURCE_ACTIONS)
            assert not undocumented, f"{policy}: {undocumented} on * without a documented reason"


def test_state_machine_role_gets_exactly_what_the_definition_calls(dev):
    mocks, outputs = dev
    statements = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "state-machine-policy").inputs["policy"])["Statement"]
    granted = {(a, r) for s in statements for a in s["Action"] for r in s["Resource"] if r != "*"}
    function = mocks.one("aws:lambda/function:Function", "validate-segment")
    assert granted == {
        ("lambda:InvokeFunction", function.outputs["arn"]),
        ("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{outputs['endpoint_name']}"),
        ("dynamodb:PutItem", mocks.one("aws:dynamodb/table:Table", "detections").outputs["arn"]),
        ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:activity-detection-dev-workflow-dlq"),
        ("lambda:InvokeFunction", mocks.one("aws:lambda/function:Function", "episodes").outputs["arn"]),
    }


def test_trust_policies_are_scoped_to_the_account_unless_the_service_documents_otherwise(dev):
    mocks, _ = dev
    roles = mocks.of_type("aws:iam/role:Role")
    assert len(roles) == 7  # + the episodes Lambda, the sweep's scheduler and the intake's starter
    for role in roles:
        trust = json.loads(role.inputs["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        if statement["Principal"]["Service"] in policies.UNCONDITIONED_TRUST:
            assert "Condition" not in statement  # MediaLive's documented trust policy
        else:
            assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT


def test_buckets_are_private_encrypted_tls_only(dev):
    mocks, _ = dev
    buckets = mocks.of_type("aws:s3/bucket:Bucket")
    assert len(buckets) == 2
    blocks = mocks.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert len(blocks) == 2 and all(
        b.inputs[k] is True for b in blocks for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    encryption = mocks.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert {e.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for e in encryption} == {"AES256"}
    for declared in mocks.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        (deny,) = json.loads(declared.inputs["policy"])["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    lifecycle = mocks.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    segments_rule, evidence_rule = lifecycle.inputs["rules"]
    assert segments_rule["expiration"]["days"] == 1  # dev: segmentRetentionDays 1
    # Evidence outlives the segments it is cut from, under its own prefix.
    assert evidence_rule["filter"]["prefix"] == "evidence/" and evidence_rule["expiration"]["days"] == 90
    assert mocks.one("aws:s3/bucketNotification:BucketNotification").inputs["eventbridge"] is True


def test_table_and_queues(dev):
    mocks, _ = dev
    table = mocks.one("aws:dynamodb/table:Table", "detections")
    assert table.inputs["hashKey"] == records.PARTITION_KEY and table.inputs["rangeKey"] == records.SORT_KEY
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["ttl"] == {"attributeName": records.TTL_ATTRIBUTE, "enabled": True}
    queues = mocks.of_type("aws:sqs/queue:Queue")
    assert {q.inputs["name"] for q in queues} == {
        "activity-detection-dev-workflow-dlq", "activity-detection-dev-events-dlq", "activity-detection-dev-intake"
    }
    dead_letter_queues = [q for q in queues if q.inputs["name"].endswith("-dlq")]
    assert all(q.inputs["sqsManagedSseEnabled"] and q.inputs["messageRetentionSeconds"] == 14 * 86400 for q in dead_letter_queues)


def test_medialive_writes_10_second_hls_segments_to_livestream_bucket(dev):
    mocks, outputs = dev
    channel = mocks.one("aws:medialive/channel:Channel")
    (group,) = channel.inputs["encoderSettings"]["outputGroups"]
    hls = group["outputGroupSettings"]["hlsGroupSettings"]
    assert hls["segmentLength"] == 10 and hls["tsFileMode"] == "SEGMENTED_FILES"
    (destination,) = channel.inputs["destinations"]
    assert hls["destination"]["destinationRefId"] == destination["id"]
    assert destination["settings"][0]["url"] == f"s3ssl://{outputs['livestream_bucket']}/live/medialive/channel"
    assert channel.inputs["channelClass"] == "SINGLE_PIPELINE" and channel.inputs["startChannel"] is False
    assert mocks.one("aws:medialive/input:Input").inputs["type"] == "MP4_FILE"


def test_autoscaling_tracks_invocations_per_instance(dev):
    mocks, outputs = dev
    target = mocks.one("aws:appautoscaling/target:Target")
    assert target.inputs["resourceId"] == f"endpoint/{outputs['endpoint_name']}/variant/AllTraffic-ml-c5-xlarge"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (1, 2)
    policy = mocks.one("aws:appautoscaling/policy:Policy")
    tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["targetValue"] == 60


def test_model_on_mxnet_container_with_entry_point(dev):
    mocks, _ = dev
    model = mocks.one("aws:sagemaker/model:Model")
    container = model.inputs["primaryContainer"]
    assert container["image"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-inference:1.9.0-cpu-py38"
    assert container["environment"]["SAGEMAKER_PROGRAM"] == archives.ENTRY_MODULE
    assert container["environment"]["ALLOWED_BUCKETS"] == "activity-detection-dev-livestream-123456789012-us-east-1"
    assert re.fullmatch(r"s3://activity-detection-dev-artifacts-\d+-us-east-1/model/[0-9a-f]{64}/model\.tar\.gz", container["modelDataUrl"])


def test_alarms_cover_dlq_failures_and_endpoint(dev):
    mocks, _ = dev
    metrics = {a.inputs["metricName"] for a in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {"ApproximateNumberOfMessagesVisible", "ExecutionsFailed", "ExecutionsTimedOut", "Invocation5XXErrors", "ModelLatency"} <= metrics
    for alarm in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        expected = 5_000_000 if alarm.inputs["metricName"] == "ModelLatency" else 0  # any dead letter, failure or 5xx
        assert alarm.inputs["threshold"] == expected


def test_dev_and_prod_differ_and_do_not_collide(dev, prod):
    dev_mocks, dev_out = dev
    prod_mocks, prod_out = prod
    assert dev_out["livestream_bucket"] != prod_out["livestream_bucket"]
    named = lambda mocks: {d.inputs["name"] for d in mocks.declared if isinstance(d.inputs.get("name"), str)}  # noqa: E731
    assert not named(dev_mocks) & named(prod_mocks)
    variant = lambda mocks: mocks.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"][0]  # noqa: E731
    assert variant(dev_mocks)["instanceType"] != variant(prod_mocks)["instanceType"]
    assert variant(prod_mocks)["initialInstanceCount"] == 2
    capacity = lambda mocks: mocks.one("aws:appautoscaling/target:Target").inputs["maxCapacity"]  # noqa: E731
    assert (capacity(dev_mocks), capacity(prod_mocks)) == (2, 6)
    force = lambda mocks: {b.inputs["forceDestroy"] for b in mocks.of_type("aws:s3/bucket:Bucket")}  # noqa: E731
    assert force(dev_mocks) == {True} and force(prod_mocks) == {False}


def test_segment_alerts_add_alert_state_bus_and_permission(model_dir):
    mocks, outputs = deploy("dev", model_dir, watchActivities=["Skiing"], alertThreshold=0.7, segmentAlerts=True)
    definition = json.loads(mocks.one("aws:sfn/stateMachine:StateMachine").inputs["definition"])
    assert definition["States"]["PublishAlert"]["Resource"] == "arn:aws:states:::events:putEvents"
    assert outputs["alert_bus_name"] == "activity-detection-dev-alerts"
    statements = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "state-machine-policy").inputs["policy"])["Statement"]
    assert any(s["Action"] == ["events:PutEvents"] for s in statements)


def test_model_archive_follows_mxnet_container_contract(model_dir):
    path = archives.build_model_archive(model_dir)
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
    assert {"model-symbol.json", "model-0000.params", "classes.txt"} <= names
    assert {"code/sagemaker_entry.py", "code/requirements.txt", "code/inference/service.py"} <= names
    assert not any("__pycache__" in n for n in names)
    assert archives.build_model_archive(model_dir) == path  # reproducible: same inputs, same file


#: Names of test hooks that once shipped in model.tar.gz (a fault switch and its routes) or could:
#: fault injection lives in the local stack's InvokeEndpoint bridge, never in the archive.
TEST_HOOKS = (b"FaultPlan", b"_faults", b"_stats", b"allow_faults", b"allow-faults", b"inject", b"moto",
              b"devstack", b"pytest", b"inference.server")


def test_model_archive_holds_only_what_serves_requests(model_dir):
    """Each member is listed (model files, the entry point, the inference package, the contracts it
    imports, its requirements and their wheels), and no code in it names a test hook."""
    import re

    with tarfile.open(archives.build_model_archive(model_dir)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        code = {name: tar.extractfile(m).read() for name, m in members.items()
                if name.startswith("code/") and not name.endswith(".whl")}
    inference_modules = {f"code/inference/{f}" for f in os.listdir(os.path.join(archives.ROOT, "inference"))
                         if f.endswith(".py") and f != archives.ENTRY_MODULE}
    expected = (
        {archived for _, archived in archives.MODEL_FILES}
        | {"code/" + archives.ENTRY_MODULE, "code/requirements.txt"}
        | inference_modules
        | {"code/contracts/" + name for name in archives.MODEL_CONTRACTS}
    )
    wheels = {name for name in members if re.fullmatch(r"code/wheels/[^/]+\.whl", name)}
    assert set(members) - wheels == expected
    assert all(m.isfile() for m in members.values())  # no links, devices or folders beyond the files'
    assert "code/inference/server.py" not in members  # no HTTP server of ours: AWS's container serves it
    assert "code/inference/service.py" in code
    for name, data in code.items():
        for hook in TEST_HOOKS:
            assert hook not in data, f"{name} mentions {hook.decode()}: test hooks stay out of model.tar.gz"


def test_lambda_archive_imports_in_a_clean_interpreter_with_the_environment_the_program_sets(dev, tmp_path):
    data = archives.lambda_archive_bytes()
    assert data == archives.lambda_archive_bytes()  # reproducible
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
        assert "lambdas/validate_segment/handler.py" in archive.namelist()
        assert "m3u8/__init__.py" in archive.namelist()  # vendored: the runtime has no m3u8
    from infra.episodes import EPISODES_HANDLER
    from infra.intake import START_WORKFLOW_HANDLER

    for handler, function in ((archives.LAMBDA_HANDLER, "validate-segment"), (EPISODES_HANDLER, "episodes"),
                              (START_WORKFLOW_HANDLER, "start-workflow")):
        module, attribute = handler.rsplit(".", 1)
        probe = f"import {module} as m; assert callable(m.{attribute}); print('ok')"
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
            env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1",
                 **resolved(lambda_environment(dev, function))},
        )
        assert result.stdout.strip() == "ok", (function, result.stderr)


def lambda_environment(deployment, name: str = "validate-segment") -> dict:
    mocks, _ = deployment
    return mocks.one("aws:lambda/function:Function", name).inputs["environment"]["variables"]


def resolved(variables: dict) -> dict:
    """The variables as text (the mocks leave a resource's unknown outputs as None)."""
    return {name: "unknown" if value is None else str(value) for name, value in variables.items()}


def test_runtime_environments_are_what_each_runtime_reads(dev):
    """Drift between the program and a runtime fails here: each side uses contracts.environment."""
    from contracts.endpoint import max_segment_seconds
    from contracts.environment import EndpointEnvironment, LambdaEnvironment
    from infra.settings import stack_config

    config = stack_config("dev")
    lambda_env = LambdaEnvironment.from_environ(lambda_environment(dev))
    assert lambda_env.stream_prefix == config["activity-detection:streamPrefix"]
    assert set(lambda_environment(dev)) == set(LambdaEnvironment.variables()) | {"POWERTOOLS_SERVICE_NAME"}
    container = dev[0].one("aws:sagemaker/model:Model").inputs["primaryContainer"]["environment"]
    endpoint_env = EndpointEnvironment.from_environ(container)
    segment_seconds = int(config["activity-detection:segmentSeconds"])
    assert endpoint_env.max_segment_seconds == max_segment_seconds(segment_seconds)
    assert endpoint_env.max_segment_bytes == lambda_env.max_segment_bytes
    assert endpoint_env.max_frame_pixels == int(config["activity-detection:maxFramePixels"])
    from contracts.environment import EpisodesEnvironment

    episodes_variables = lambda_environment(dev, "episodes")
    assert set(episodes_variables) == set(EpisodesEnvironment.variables()) | {"POWERTOOLS_SERVICE_NAME"}
    episodes_env = EpisodesEnvironment.from_environ(resolved(episodes_variables))
    assert episodes_env.stall_seconds == int(config["activity-detection:stallSegments"]) * segment_seconds
    assert episodes_env.episode_threshold == float(config["activity-detection:episodeThreshold"])
    from contracts.environment import StartWorkflowEnvironment

    starter_variables = lambda_environment(dev, "start-workflow")
    assert set(starter_variables) == set(StartWorkflowEnvironment.variables()) | {"POWERTOOLS_SERVICE_NAME"}
    StartWorkflowEnvironment.from_environ(resolved(starter_variables))


def test_a_new_model_replaces_model_and_config_without_touching_the_endpoint_name(model_dir, tmp_path, monkeypatch):
    """Model and EndpointConfiguration are auto-named (so Pulumi creates the replacement first),
    the archive's key is its content's hash (so a new archive is a new object and a new Model, and the
    old Model keeps its own bytes), and the endpoint keeps its name (the state machine's target does not change)."""
    import shutil

    monkeypatch.setenv(archives.BUILD_DIR_ENV, str(tmp_path / "build"))  # keep the second archive out of .build/
    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other)
    (other / "manifest.json").write_text((other / "manifest.json").read_text().replace('"name": "', '"name": "v2-'))
    first, _ = deploy("dev", model_dir)
    second, _ = deploy("dev", str(other))
    model = lambda mocks: mocks.one("aws:sagemaker/model:Model")  # noqa: E731
    config = lambda mocks: mocks.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")  # noqa: E731
    assert "name" not in model(first).inputs and "name" not in config(first).inputs
    url = lambda mocks: model(mocks).inputs["primaryContainer"]["modelDataUrl"]  # noqa: E731
    key = lambda mocks: mocks.one("aws:s3/bucketObjectv2:BucketObjectv2", "model-archive").inputs["key"]  # noqa: E731
    assert key(first) != key(second) and url(first).endswith(key(first)) and url(second).endswith(key(second))
    endpoint = lambda mocks: mocks.one("aws:sagemaker/endpoint:Endpoint").inputs["name"]  # noqa: E731
    assert endpoint(first) == endpoint(second)


def test_request_options_come_from_config(model_dir):
    mocks, _ = deploy("dev", model_dir, clips=3, minConfidence=0.4)
    definition = json.loads(mocks.one("aws:sfn/stateMachine:StateMachine").inputs["definition"])
    request = definition["States"]["BuildRequest"]["Parameters"]
    assert (request["clips"], request["min_confidence"]) == (3, 0.4)


def test_medialive_sends_no_canned_acl(dev):
    """MediaLive's S3CannedAcl enum has no "NONE": no ACL means leaving the field out."""
    mocks, _ = dev
    channel = mocks.one("aws:medialive/channel:Channel")
    assert "cannedAcl" not in json.dumps(channel.inputs)


def test_segment_readers_may_list_only_under_the_stream_prefix(dev):
    """Without s3:ListBucket a missing key is a 403, not a 404 (the Lambda's OBJECT_MISSING, the endpoint's 404)."""
    mocks, outputs = dev
    bucket_arn = f"arn:aws:s3:::{outputs['livestream_bucket']}"
    for role in ("lambda-policy", "inference-policy"):
        statements = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", role).inputs["policy"])["Statement"]
        (listing,) = [s for s in statements if "s3:ListBucket" in s["Action"]]
        assert listing["Resource"] == [bucket_arn]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": ["live/*", "live"]}}


def test_every_arn_follows_the_partition(model_dir):
    """In aws-cn every ARN the program builds says arn:aws-cn:, and the image comes from the .com.cn ECR host."""
    mocks = RecordingMocks(partition="aws-cn")
    run_program(mocks, "dev", {"liveSourceVideo": VIDEO, "modelDir": model_dir, "aws:region": "cn-north-1"})
    built = json.dumps([d.inputs for d in mocks.declared], default=str)
    assert "arn:aws-cn:" in built and "arn:aws:" not in built
    image = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]["image"]
    assert image == "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/mxnet-inference:1.9.0-cpu-py38"


def test_an_unknown_region_is_a_clear_error_unless_an_image_is_given():
    from infra.model_endpoint import DLC_ACCOUNTS, default_inference_image

    assert default_inference_image("ap-northeast-3", "ml.c5.xlarge").startswith("364406365360.dkr.ecr.ap-northeast-3.amazonaws.com/")
    assert len(DLC_ACCOUNTS) >= 35
    with pytest.raises(ValueError, match="inferenceImage"):
        default_inference_image("xx-nowhere-1", "ml.c5.xlarge")


def test_alarm_and_alert_topics_use_customer_managed_keys_granting_their_publisher(model_dir):
    mocks, _ = deploy("dev", model_dir, alertEmail="ops@example.com", watchActivities=["Skiing"])
    topics = mocks.of_type("aws:sns/topic:Topic")
    keys = {k.outputs["arn"]: k for k in mocks.of_type("aws:kms/key:Key")}
    assert len(topics) == 2 and len(keys) == 2
    publishers = {}
    for topic in topics:
        assert topic.inputs["kmsMasterKeyId"] in keys, "alias/aws/sns cannot grant CloudWatch or EventBridge"
        key = keys[topic.inputs["kmsMasterKeyId"]]
        assert key.inputs["enableKeyRotation"] is True
        (grant,) = [s for s in json.loads(key.inputs["policy"])["Statement"] if "Service" in s["Principal"]]
        assert set(grant["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
        assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
        publishers[grant["Principal"]["Service"]] = grant["Condition"]["ArnLike"]["aws:SourceArn"]
    assert publishers == {
        "cloudwatch.amazonaws.com": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*",
        "events.amazonaws.com": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/activity-detection-dev-alerts/activity-detection-dev-alerts-*",
    }
    # One rule per event type, each named under the key's grant.
    rule = mocks.one("aws:cloudwatch/eventRule:EventRule", "alerts-activity-ended")
    assert rule.outputs["name"] == "activity-detection-dev-alerts-activity-ended"


def test_powertools_layer_is_the_tested_release(dev):
    from infra.workflow import powertools_version

    mocks, _ = dev
    assert mocks.parameters_read == [f"/aws/service/powertools/python/x86_64/python3.12/{powertools_version()}"]
    (layer,) = mocks.one("aws:lambda/function:Function", "validate-segment").inputs["layers"]
    assert layer.endswith(":layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:99")
    assert layer in mocks.one("aws:lambda/function:Function", "episodes").inputs["layers"]


def test_instance_type_change_replaces_the_scalable_target_around_the_endpoint_update(model_dir):
    """The plan of an instance-type change on an autoscaled endpoint (SageMaker refuses an update that
    changes the instance type of a registered variant).

    Between the two runs: the endpoint keeps its name (an update, not a replacement); the new endpoint
    configuration has a new variant, named after the new type, so no registered variant changes type;
    the scalable target's resource id (a replace-only property of aws:appautoscaling/target) names the
    new variant, so Pulumi replaces it: the new registration is created after the endpoint update (its
    resource id is read off the updated endpoint), and the old registration deleted. A model-only change
    keeps the variant, hence the registration.
    """
    before, _ = deploy("dev", model_dir)
    after, _ = deploy("dev", model_dir, endpointInstanceType="ml.c5.2xlarge")
    variant = lambda mocks: mocks.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"][0]  # noqa: E731
    target = lambda mocks: mocks.one("aws:appautoscaling/target:Target").inputs  # noqa: E731
    endpoint = lambda mocks: mocks.one("aws:sagemaker/endpoint:Endpoint").inputs["name"]  # noqa: E731
    assert endpoint(before) == endpoint(after)
    assert (variant(before)["instanceType"], variant(after)["instanceType"]) == ("ml.c5.xlarge", "ml.c5.2xlarge")
    assert variant(before)["variantName"] == "AllTraffic-ml-c5-xlarge"
    assert variant(after)["variantName"] == "AllTraffic-ml-c5-2xlarge"
    assert target(before)["resourceId"] == f"endpoint/{endpoint(before)}/variant/AllTraffic-ml-c5-xlarge"
    assert target(after)["resourceId"] == f"endpoint/{endpoint(after)}/variant/AllTraffic-ml-c5-2xlarge"
    policy = lambda mocks: mocks.one("aws:appautoscaling/policy:Policy").inputs["resourceId"]  # noqa: E731
    assert policy(after) == target(after)["resourceId"]
    # The alarms follow the variant.
    alarm = lambda mocks: next(a for a in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.inputs["metricName"] == "ModelLatency")  # noqa: E731
    assert alarm(after).inputs["dimensions"]["VariantName"] == "AllTraffic-ml-c5-2xlarge"


@pytest.mark.parametrize(
    "instance_type,processor",
    [("ml.c5.xlarge", "cpu"), ("ml.m5.2xlarge", "cpu"), ("ml.g4dn.2xlarge", "gpu"), ("ml.g5.xlarge", "gpu"),
     ("ml.p3.2xlarge", "gpu"), ("ml.g6.xlarge", "gpu"), ("ml.p4d.24xlarge", "gpu")],
)
def test_instance_type_selects_the_cpu_or_gpu_image_for_the_region(instance_type, processor):
    from infra.model_endpoint import default_inference_image

    assert default_inference_image("eu-west-1", instance_type) == (
        f"763104351884.dkr.ecr.eu-west-1.amazonaws.com/mxnet-inference:1.9.0-{processor}-py38"
    )
    assert default_inference_image("af-south-1", instance_type).startswith("626614931356.dkr.ecr.af-south-1.")


@pytest.mark.parametrize("instance_type", ["ml.inf1.xlarge", "ml.inf2.xlarge", "ml.trn1.2xlarge", "c5.xlarge"])
def test_instance_types_without_an_mxnet_image_are_refused(instance_type):
    from infra.model_endpoint import default_inference_image

    with pytest.raises(ValueError, match=instance_type):
        default_inference_image("us-east-1", instance_type)


def test_gpu_instance_type_deploys_the_gpu_image(model_dir):
    mocks, _ = deploy("dev", model_dir, endpointInstanceType="ml.g4dn.xlarge")
    container = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]
    assert container["image"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-inference:1.9.0-gpu-py38"
    statements = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "inference-policy").inputs["policy"])["Statement"]
    pulls = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
    assert pulls[0]["Resource"] == ["arn:aws:ecr:us-east-1:763104351884:repository/mxnet-inference"]


def test_model_environment_sets_mms_workers_and_threads_per_worker(dev, model_dir):
    mocks, _ = dev
    environment = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]["environment"]
    # Pulumi.yaml's defaults on ml.c5.xlarge (4 vCPUs): the measured rule, one single-threaded worker per vCPU.
    assert (environment["SAGEMAKER_MODEL_SERVER_WORKERS"], environment["OMP_NUM_THREADS"]) == ("4", "1")
    assert environment["MMS_JOB_QUEUE_SIZE"] == "16"
    mocks, _ = deploy("dev", model_dir, endpointInstanceType="ml.c5.4xlarge", endpointWorkers=2, endpointJobQueueSize=5)
    environment = mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]["environment"]
    assert (environment["SAGEMAKER_MODEL_SERVER_WORKERS"], environment["OMP_NUM_THREADS"]) == ("2", "8")
    assert environment["MMS_JOB_QUEUE_SIZE"] == "5"


@pytest.mark.parametrize(
    "instance_type,mode,workers,threads,expected",
    [("ml.m5.large", "instance", 1, 0, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "2"}),
     ("ml.c5.9xlarge", "instance", 0, 0, {"SAGEMAKER_MODEL_SERVER_WORKERS": "36", "OMP_NUM_THREADS": "1"}),  # the rule
     ("ml.c5.xlarge", "instance", 3, 0, {"SAGEMAKER_MODEL_SERVER_WORKERS": "3", "OMP_NUM_THREADS": "1"}),
     ("ml.c5.2xlarge", "instance", 0, 4, {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "OMP_NUM_THREADS": "4"}),
     ("ml.c5.metal", "instance", 2, 2, {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "OMP_NUM_THREADS": "2"}),  # no vCPUs needed
     ("ml.g4dn.xlarge", "instance", 0, 0, {}),  # MMS's one worker per GPU, the toolkit's threads
     ("ml.g4dn.2xlarge", "instance", 2, 0, {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "OMP_NUM_THREADS": "4"}),
     ("ml.c5.xlarge", "serverless", 0, 0, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}),
     ("ml.c5.xlarge", "serverless", 1, 0, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}),
     ("ml.c5.xlarge", "serverless", 1, 2, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "2"})],
)
def test_serving_environment(instance_type, mode, workers, threads, expected):
    from infra.model_endpoint import instance_vcpus, serving_environment

    assert serving_environment(instance_type, mode, workers, threads) == expected


@pytest.mark.parametrize(
    "instance_type,mode,expected",
    [("ml.c5.xlarge", "instance", 1),  # the rule: 4 workers, one OpenMP thread each
     ("ml.c5.9xlarge", "instance", 1),
     ("ml.g4dn.xlarge", "instance", 0),  # MMS's one worker per GPU, with the toolkit's OMP_NUM_THREADS=1
     ("ml.c5.xlarge", "serverless", 0)],  # one worker, the toolkit's one thread
)
def test_the_decoder_is_single_threaded_only_beside_other_single_threaded_workers(instance_type, mode, expected):
    """What the reader's decoder does in a worker of the endpoint the program declares, once AWS's
    toolkit has filled in its defaults (``OMP_NUM_THREADS=1`` where the Model sets none)."""
    toolkit = pytest.importorskip("sagemaker_mxnet_serving_container.serving")
    from infra.model_endpoint import serving_environment
    from inference.video import decoder_threads

    worker = dict(serving_environment(instance_type, mode, 0, 0))
    for name, value in toolkit.DEFAULT_ENV_VARS.items():
        worker.setdefault(name, value)
    assert decoder_threads(worker) == expected


def test_instance_vcpus_follow_the_size_and_unknown_sizes_are_refused():
    from infra.model_endpoint import instance_vcpus, serving_environment

    assert [instance_vcpus(t) for t in ("ml.t2.medium", "ml.c5.large", "ml.g4dn.xlarge", "ml.c5.18xlarge")] == [2, 2, 4, 72]
    with pytest.raises(ValueError, match="set endpointWorkers and endpointThreadsPerWorker"):
        serving_environment("ml.c5.metal", "instance", 0, 0)


@pytest.mark.parametrize("segments_per_second,headroom,expected",
                         [(1.53, 0.7, 64), (2.424, 0.7, 101), (1.5, 0.7, 63), (3.0, 0.7, 126), (0.01, 0.7, 1), (1.0, 1.0, 60)])
def test_autoscaling_target_keeps_an_instance_at_its_headroom(segments_per_second, headroom, expected):
    from infra.model_endpoint import autoscaling_target

    assert autoscaling_target(segments_per_second, headroom) == expected


@pytest.mark.parametrize("segments_per_second,headroom", [(0, 0.7), (-1, 0.7), (1.0, 0), (1.0, 1.5)])
def test_autoscaling_target_refuses_a_rate_or_headroom_out_of_range(segments_per_second, headroom):
    from infra.model_endpoint import autoscaling_target

    with pytest.raises(ValueError):
        autoscaling_target(segments_per_second, headroom)


def test_serverless_mode_declares_serverless_config_and_no_autoscaling(model_dir):
    from state_machine.definition import EXPRESS_LIMIT_SECONDS, WorkflowTuning

    mocks, _ = deploy("dev", model_dir, endpointMode="serverless", serverlessMemoryMb=4096, serverlessMaxConcurrency=3)
    (variant,) = mocks.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 4096, "maxConcurrency": 3}
    assert "instanceType" not in variant and "initialInstanceCount" not in variant
    assert not mocks.of_type("aws:appautoscaling/target:Target") and not mocks.of_type("aws:appautoscaling/policy:Policy")
    assert mocks.one("aws:sagemaker/model:Model").inputs["primaryContainer"]["image"].endswith("mxnet-inference:1.9.0-cpu-py38")
    # The cold start is retried longer, and the whole execution still fits in Express's limit.
    definition = json.loads(mocks.one("aws:sfn/stateMachine:StateMachine").inputs["definition"])
    retriers = definition["States"]["DetectActivity"]["Retry"]
    (cold_start,) = [r for r in retriers if "SageMakerRuntime.ModelNotReadyException" in r["ErrorEquals"]]
    serverless = WorkflowTuning().for_serverless()
    assert cold_start == serverless.endpoint_transient.to_asl(cold_start["ErrorEquals"])
    assert serverless.endpoint_transient.worst_case_wait_seconds() > WorkflowTuning().endpoint_transient.worst_case_wait_seconds()
    assert serverless.worst_case_seconds() <= EXPRESS_LIMIT_SECONDS


@pytest.mark.parametrize(
    "overrides,message",
    [({"endpointMode": "burst"}, "endpointMode must be"),
     ({"endpointMode": "serverless", "serverlessMemoryMb": 8192}, "serverlessMemoryMb must be one of"),
     ({"endpointMode": "serverless", "serverlessMaxConcurrency": 0}, "serverlessMaxConcurrency must be between 1 and 200"),
     ({"endpointMode": "serverless", "endpointInstanceType": "ml.g5.xlarge"}, "serverless has no GPU")],
)
def test_endpoint_mode_settings_are_checked(overrides, message):
    import pulumi

    from infra.settings import PROJECT, Settings, stack_config

    pulumi.runtime.set_all_config(stack_config("dev", overrides=overrides))
    try:
        with pytest.raises(ValueError, match=message):
            Settings.from_config(pulumi.Config(PROJECT))
    finally:
        pulumi.runtime.set_all_config({})


def test_settings_are_typed_by_their_annotations_and_missing_keys_are_named():
    import pulumi

    from infra.settings import PROJECT, Settings, stack_config

    config = stack_config("dev", overrides={"minConfidence": "0.25", "watchActivities": ["Biking"]})
    pulumi.runtime.set_all_config(config)
    try:
        settings = Settings.from_config(pulumi.Config(PROJECT))
        assert settings.min_confidence == 0.25 and settings.watch_activities == ("Biking",)
        assert settings.force_destroy_buckets is True and isinstance(settings.segment_seconds, int)
        pulumi.runtime.set_all_config({k: v for k, v in config.items() if not k.endswith(":segmentSeconds")})
        with pytest.raises(Exception, match="segmentSeconds"):
            Settings.from_config(pulumi.Config(PROJECT))
    finally:
        pulumi.runtime.set_all_config({})


def test_episodes_table_lambda_schedule_and_least_privilege(dev):
    from contracts import episodes as ep

    mocks, outputs = dev
    table = mocks.one("aws:dynamodb/table:Table", "episodes")
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == (ep.PARTITION_KEY, ep.SORT_KEY)
    (index,) = table.inputs["globalSecondaryIndexes"]
    assert (index["name"], index["hashKey"], index["rangeKey"]) == (ep.LABEL_INDEX, *ep.LABEL_INDEX_KEYS)
    function = mocks.one("aws:lambda/function:Function", "episodes")
    variables = function.inputs["environment"]["variables"]
    # The rule's defaults come from Pulumi.yaml only.
    assert (variables["EPISODE_THRESHOLD"], variables["EPISODE_OPEN_SEGMENTS"], variables["EPISODE_CLOSE_SEGMENTS"]) == ("0.5", "1", "2")
    assert variables["STALL_SECONDS"] == "30" and variables["EVIDENCE_PREFIX"] == "evidence"
    layer = mocks.one("aws:lambda/layerVersion:LayerVersion")
    assert layer.outputs["arn"] in function.inputs["layers"]
    schedule = mocks.one("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 minute)"
    assert schedule.inputs["target"]["arn"] == function.outputs["arn"]
    assert json.loads(schedule.inputs["target"]["input"])["sweep"] is True
    scheduler = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "episodes-scheduler").inputs["policy"])["Statement"]
    assert [(s["Action"], s["Resource"]) for s in scheduler] == [(["lambda:InvokeFunction"], [function.outputs["arn"]])]
    statements = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "episodes-policy").inputs["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["WriteEvidence"]["Resource"] == [f"arn:aws:s3:::{outputs['livestream_bucket']}/evidence/*"]
    assert by_sid["SendEvents"]["Resource"] == [mocks.one("aws:cloudwatch/eventBus:EventBus").outputs["arn"]]
    assert by_sid["ReadRecords"]["Resource"] == [mocks.one("aws:dynamodb/table:Table", "detections").outputs["arn"]]
    assert all(s["Resource"] == ["*"] or "*" not in s["Resource"] for s in statements)
    alarms = {a.inputs["metricName"] for a in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert "StreamsStalled" in alarms


def test_email_alerts_read_as_sentences(model_dir):
    from contracts import episodes as ep
    from infra.alerts import render

    mocks, _ = deploy("dev", model_dir, watchActivities=["Skiing"], alertEmail="ops@example.com")
    targets = [t for t in mocks.of_type("aws:cloudwatch/eventTarget:EventTarget") if "to-topic" in t.name]
    assert len(targets) == 4  # started, ended, stalled, resumed (the per-segment event is opt-in)
    assert all(t.inputs["inputTransformer"]["inputTemplate"].startswith('"') for t in targets)
    from tests.conftest import load_event

    event = load_event("activity_ended.json")
    assert render(ep.ACTIVITY_ENDED, event) == (
        "Skiing on camera cam-1 ended (absent): it lasted from 2026-11-25T12:03:20Z to 2026-11-25T12:04:00Z "
        "(200.0 s to 240.0 s into the stream), peak probability 0.93. "
        "Clip: s3://b/evidence/cam-1/b90a0caf-3b11-5df0-b770-3356708a1635/clip.mp4. Episode b90a0caf-3b11-5df0-b770-3356708a1635."
    )
