"""Run the Pulumi program (``__main__.py``) in-process under a ``pulumi.runtime.Mocks``.

There is no Pulumi CLI here. The tests run the program under recording mocks
and assert what it declares; the local stack runs it under mocks that create
each resource in moto. Both go through :func:`run_program`, which gives the
program the config ``pulumi up`` would (``Pulumi.yaml`` defaults merged with
``Pulumi.<stack>.yaml``), and waits for every resource to be registered.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pulumi

from infra.settings import PROJECT, ROOT, stack_config

PROGRAM = os.path.join(ROOT, "__main__.py")


def run_program(mocks: pulumi.runtime.Mocks, stack: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``__main__.py`` once; returns its stack outputs, resolved."""
    config = stack_config(stack, overrides=overrides)
    pulumi.runtime.set_all_config(config, [])
    # Mocks first, program second: a program imported before set_mocks talks to no engine.
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    exported: dict[str, Any] = {}
    declared: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        spec = importlib.util.spec_from_file_location(f"pulumi_program_{stack}", PROGRAM)
        module = importlib.util.module_from_spec(spec)
        original_export = pulumi.export
        # Capture stack outputs as the CLI would display them.
        pulumi.export = lambda name, value: declared.__setitem__(name, value)
        try:
            spec.loader.exec_module(module)
        finally:
            pulumi.export = original_export
        return pulumi.Output.all(**declared).apply(exported.update)

    program()
    return exported
