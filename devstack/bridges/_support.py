"""What every bridge shares: the moto version guard, patching helpers, runtime settings.

A bridge patches moto's internals, which change between releases without
notice. Each bridge module names the moto versions it was checked against
(``TESTED_MOTO``) and refuses any other with :class:`UntestedMoto`, so an
upgrade fails loudly at start instead of silently changing what the local
stack does.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
from typing import Any, Callable

#: JSON file with runtime settings the tests may change while the server runs.
SETTINGS_ENV = "DEVSTACK_BRIDGE_SETTINGS"
STATE_DIR_ENV = "DEVSTACK_STATE_DIR"
DEFAULT_SETTINGS = {"sdk_error_naming": "sdk"}
#: The bridges a patched function carries (its own and those of the function it wraps), so
#: installing a bridge twice is a no-op while two bridges may patch the same method.
MARK = "_devstack_bridges"


class UntestedMoto(RuntimeError):
    """The installed moto is not a version this bridge was checked against."""


def moto_version() -> str:
    import moto

    return moto.__version__


def require_moto(bridge: str, tested: tuple[str, ...]) -> None:
    """Refuse to patch a moto version the bridge was not checked against."""
    installed = moto_version()
    if installed not in tested:
        raise UntestedMoto(
            f"{bridge} patches moto internals and was checked against moto {', '.join(tested)} only; "
            f"moto {installed} is installed. Install the pinned version (pip install -c constraints.txt -r "
            f"requirements.txt), or read the patched moto code of {installed}, adapt the bridge, and add "
            f"{installed} to its TESTED_MOTO."
        )


def argument(original: Callable[..., Any], name: str, args: tuple, kwargs: dict) -> Any:
    """The value ``original(*args, **kwargs)`` would receive as parameter ``name``."""
    return inspect.signature(original).bind(*args, **kwargs).arguments[name]


def is_installed(function: Any, bridge: str) -> bool:
    """Whether ``bridge`` (a module name) already patched ``function``, directly or beneath another bridge."""
    return bridge in getattr(function, MARK, frozenset())


def mark(function: Callable[..., Any], bridge: str, wraps: Any) -> Callable[..., Any]:
    """Mark ``function``, which replaces ``wraps``, as installed by ``bridge``."""
    setattr(function, MARK, getattr(wraps, MARK, frozenset()) | {bridge})
    return function


def bridge_settings() -> dict[str, Any]:
    path = os.environ.get(SETTINGS_ENV)
    settings = dict(DEFAULT_SETTINGS)
    if path and os.path.exists(path):
        with open(path) as handle:
            settings.update(json.load(handle))
    return settings


def state_dir() -> str:
    path = os.environ.get(STATE_DIR_ENV) or os.path.join(os.getcwd(), ".devstack")
    os.makedirs(path, exist_ok=True)
    return path


_CONSUMED: dict[str, int] = {}
_CONSUMED_LOCK = threading.Lock()


def take_fault(name: str) -> bool:
    """Whether this call should fail: settings ``{name: {"id": ..., "count": n}}`` fail the next n calls."""
    fault = bridge_settings().get(name)
    if not fault:
        return False
    with _CONSUMED_LOCK:
        used = _CONSUMED.get(fault["id"], 0)
        if used >= int(fault["count"]):
            return False
        _CONSUMED[fault["id"]] = used + 1
        return True
