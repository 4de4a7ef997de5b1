"""The README documents what the code has: every config key, every stack.json key, every CLI command."""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme() -> str:
    with open(os.path.join(ROOT, "README.md")) as handle:
        return handle.read()


def test_every_config_key_is_in_the_readme_table_with_its_default():
    with open(os.path.join(ROOT, "Pulumi.yaml")) as handle:
        config = yaml.safe_load(handle)["config"]
    text = readme()
    for key, spec in config.items():
        default = spec["default"]
        shown = "[]" if default == [] else ("\"\"" if default == "" else str(default).lower() if isinstance(default, bool) else str(default))
        assert f"| `{key}` | `{shown}` |" in text, f"{key} (default {shown}) missing from README's config table"


def test_stack_json_keys_are_documented():
    from devstack import stack

    text = readme()
    for key in stack.STACK_KEYS:
        assert f"`{key}`" in text, key
    assert "stack.json" in stack.__doc__


def test_cli_commands_are_documented():
    from devstack.__main__ import parser

    commands = parser()._subparsers._group_actions[0].choices
    text = readme()
    for command in commands:
        assert f"python -m devstack {command}" in text, command
