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
    """Every key LocalStack.start writes to stack.json, read from the code that writes it."""
    import ast
    import inspect

    from devstack import stack

    tree = ast.parse(inspect.getsource(stack))
    written = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "info" for t in node.targets):
            written |= {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    assert written, "no `self.info = {...}` found in devstack/stack.py"
    text = readme()
    assert written == set(stack.STACK_KEYS)
    missing = [key for key in sorted(written) if f"`{key}`" not in text]
    assert not missing, f"stack.json keys missing from the README: {missing}"


def test_cli_commands_are_documented():
    from devstack.__main__ import parser

    commands = parser()._subparsers._group_actions[0].choices
    text = readme()
    for command in commands:
        assert f"python -m devstack {command}" in text, command


def test_the_layout_table_names_every_top_level_entry_and_only_existing_paths():
    import re
    import subprocess

    text = readme()
    start = text.index("## Layout")
    table = text[start:text.index("\n\n", text.index("| folder |", start))]
    named = [path for row in table.splitlines()[2:] for path in re.findall(r"`([^`]+)`", row.split(" | ")[0])]
    missing = [path for path in named if not os.path.exists(os.path.join(ROOT, path))]
    assert not missing, f"the layout table names paths that do not exist: {missing}"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    if not tracked:  # not a git checkout (an unpacked archive): nothing to compare with
        return
    top = {path.split("/")[0] + ("/" if "/" in path else "") for path in tracked}
    unnamed = sorted(entry for entry in top - {".gitignore", "README.md"}
                     if not any(name == entry or name.startswith(entry) for name in named))
    assert not unnamed, f"the layout table does not name: {unnamed}"
