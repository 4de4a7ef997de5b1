"""Pulumi.yaml against the rules of Pulumi's project-file schema, and the stack files against its declared types.

The Pulumi CLI validates ``Pulumi.yaml`` against its JSON schema before the
program runs; there is no CLI here, and the ``pulumi`` Python package does not
ship the schema. ``tests/schemas/pulumi-project.json`` restates the rules that
schema sets for what this project uses (source:
https://github.com/pulumi/pulumi/blob/master/sdk/go/common/workspace/project.json):
``name`` and ``runtime`` are required; a config key declares ``type`` as one of
``string``, ``integer``, ``boolean``, ``array``; ``array`` needs ``items``; no
other property is allowed in a config declaration.
"""

import copy
import json
import os

import jsonschema
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "tests", "schemas", "pulumi-project.json")


def load(name):
    with open(os.path.join(ROOT, name)) as handle:
        return yaml.safe_load(handle)


def errors(project):
    with open(SCHEMA) as handle:
        schema = json.load(handle)
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(project)]


def test_project_file_satisfies_pulumis_schema():
    assert errors(load("Pulumi.yaml")) == []


@pytest.mark.parametrize(
    "key, declaration",
    [
        ("minConfidence", {"type": "number", "default": 0}),  # finding 1: Pulumi has no "number" config type
        ("watchActivities", {"type": "array", "default": []}),  # an array without items
        ("clips", {"type": "integer", "default": 1, "minimum": 1}),  # a property the schema does not allow
    ],
)
def test_the_schema_check_fails_on_a_broken_declaration(key, declaration):
    project = copy.deepcopy(load("Pulumi.yaml"))
    project["config"][key] = declaration
    assert errors(project)


def _parses_as(kind, value) -> bool:
    text = value if isinstance(value, str) else json.dumps(value)
    if kind == "integer":
        return text.lstrip("-").isdigit()
    if kind == "boolean":
        return text in ("true", "false")
    if kind == "array":
        return isinstance(json.loads(text), list)
    return True


@pytest.mark.parametrize("stack_file", ["Pulumi.dev.yaml", "Pulumi.prod.yaml"])
def test_stack_values_and_defaults_parse_as_their_declared_types(stack_file):
    project = load("Pulumi.yaml")
    declared = project["config"]
    values = {k.split(":", 1)[1]: v for k, v in (load(stack_file).get("config") or {}).items() if k.startswith(project["name"] + ":")}
    assert values, "the stack file sets project keys"
    for key, value in values.items():
        assert key in declared, f"{stack_file}: {key} is not declared in Pulumi.yaml"
        assert _parses_as(declared[key]["type"], value), f"{stack_file}: {key}={value!r} is not a {declared[key]['type']}"
    for key, spec in declared.items():
        assert _parses_as(spec["type"], spec["default"]) or spec["type"] == "string", key
        if spec["type"] == "string":
            assert isinstance(spec["default"], str), f"{key}: a string's default must be a string"
