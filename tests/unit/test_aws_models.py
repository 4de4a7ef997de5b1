"""Every resource the program declares, as the AWS API requests that create it, against botocore's API models.

The mocks accept anything; AWS does not. For the ``dev`` and ``prod`` stacks, and
``dev`` with a watch list, with an alert e-mail and as a serverless endpoint, each declared resource is
mapped to its API requests (``devstack.api_params``: pulumi-aws input names ->
API member names) and checked against the operation's input shape in
``botocore/data/<service>/<date>/service-2.json``: required members, unknown
members, types, enum values, numeric ranges, lengths and patterns.
"""

import copy
import json
import os

import pytest

from devstack import api_params
from infra.program_runner import run_program
from tests.pulumi_mocks import RecordingMocks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO = os.path.join(ROOT, "videos", "README.md")  # any existing file stands in for the sample video

VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev-watch-list": ("dev", {"watchActivities": ["Skiing", "Biking"], "alertThreshold": 0.7}),
    "dev-alert-email": ("dev", {"alertEmail": "ops@example.com", "watchActivities": ["Skiing"]}),
    "dev-serverless": ("dev", {"endpointMode": "serverless", "serverlessMemoryMb": 4096, "serverlessMaxConcurrency": 3}),
}


@pytest.fixture(scope="module")
def declared(model_dir):
    found = {}
    for variant, (stack, overrides) in VARIANTS.items():
        mocks = RecordingMocks()
        run_program(mocks, stack, {"liveSourceVideo": VIDEO, "modelDir": model_dir, **overrides})
        found[variant] = [d for d in mocks.declared if not d.typ.startswith("activity-detection:")]
    return found


def violations(resources, checked=None):
    problems = []
    for resource in resources:
        for call in api_params.api_calls(resource.typ, resource.inputs, resource.outputs):
            problems += [f"{resource.typ} {resource.name}: {p}" for p in api_params.model_violations(call, checked)]
    return problems


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_declared_resource_satisfies_the_api_model(declared, variant):
    checked = api_params.Checked()
    assert violations(declared[variant], checked) == []
    # The checks looked at something: enums, ranges, lengths and patterns were all exercised.
    assert checked.members > 300 and checked.enums > 30 and checked.ranges > 10 and checked.lengths > 100 and checked.patterns > 50


def test_every_declared_type_has_an_api_mapping(declared):
    types = {r.typ for resources in declared.values() for r in resources}
    assert types <= set(api_params.BUILDERS), types - set(api_params.BUILDERS)
    assert {"aws:kms/key:Key", "aws:sns/topic:Topic", "aws:medialive/channel:Channel"} <= types


def _one(resources, typ):
    """A copy of the first resource of ``typ`` (to break without touching the fixture)."""
    return copy.deepcopy(next(r for r in resources if r.typ == typ))


def test_a_canned_acl_of_none_is_rejected(declared):
    """Finding 2 reintroduced: MediaLive's S3CannedAcl enum has no NONE."""
    channel = _one(declared["dev"], "aws:medialive/channel:Channel")
    hls = channel.inputs["encoderSettings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
    hls["hlsCdnSettings"] = [{"hlsS3Settings": {"cannedAcl": "NONE"}}]
    (problem,) = violations([channel])
    assert "CannedAcl: 'NONE' is not one of" in problem


@pytest.mark.parametrize(
    "typ, change, expected",
    [
        ("aws:kms/key:Key", lambda i: i.update(deletionWindowInDays=0), "PendingWindowInDays: value 0 is below the minimum 1"),
        ("aws:sqs/queue:Queue", lambda i: i.update(messageRetentionSeconds=2_000_000),
         "MessageRetentionPeriod: value 2000000 is outside 60..1209600"),
        ("aws:lambda/eventSourceMapping:EventSourceMapping", lambda i: i.update(scalingConfig={"maximumConcurrency": 1}),
         "MaximumConcurrency: value 1 is below the minimum 2"),
        ("aws:sagemaker/endpointConfiguration:EndpointConfiguration",
         lambda i: i["productionVariants"][0].update(variantName="All.Traffic"), "does not match the pattern"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", lambda i: i.update(comparisonOperator="Above"), "is not one of"),
        ("aws:lambda/function:Function", lambda i: i.update(timeout=6000), "value 6000 is above the maximum"),
        ("aws:appautoscaling/target:Target", lambda i: i.pop("scalableDimension"), "required member ScalableDimension is missing"),
        ("aws:sfn/stateMachine:StateMachine", lambda i: i.update(type="EXPRESSO"), "is not one of"),
    ],
)
def test_the_check_fails_on_a_broken_input(declared, typ, change, expected):
    resource = _one(declared["dev-alert-email"], typ)
    change(resource.inputs)
    problems = violations([resource])
    assert any(expected in p for p in problems), problems


def test_an_input_the_api_does_not_have_is_reported_not_dropped(declared):
    bucket = _one(declared["dev"], "aws:s3/bucket:Bucket")
    bucket.inputs["acceleration"] = "Enabled"
    with pytest.raises(api_params.UnmappedInput, match="acceleration"):
        violations([bucket])


def test_documents_inside_requests_are_json(declared):
    """Policies, event patterns, the definition and the dashboard are JSON strings, as the APIs take them."""
    seen = 0
    for resource in declared["dev-alert-email"]:
        for call in api_params.api_calls(resource.typ, resource.inputs, resource.outputs):
            for name in ("Policy", "PolicyDocument", "AssumeRolePolicyDocument", "EventPattern", "definition", "DashboardBody"):
                if name in call.params:
                    json.loads(call.params[name])
                    seen += 1
    assert seen >= 15
