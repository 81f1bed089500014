"""The platform of this process, for handlers: built once, reused while warm.

In Lambda each function reads its settings on first use — the groups it needs
(:data:`agentic_mlops.settings.FUNCTION_GROUPS`) — and builds its platform when a request
first needs it, then keeps both while the container is warm. The local server builds one
platform for every handler it emulates and calls each handler inside :func:`serving`, so
two servers in one process (tests) never answer from each other's platform; in-process
Lambda emulations (tests) :func:`install` theirs for the whole process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentic_mlops.composition import Platform, Role
    from agentic_mlops.settings import Settings

_ROLES: dict[str, Role] = {
    "api": "api",
    "websocket": "websocket",
    "slack": "slack",
    "node_runner": "workflow",
    "wait_registrar": "workflow",
    "failure_handler": "workflow",
}
_platforms: dict[str, Platform] = {}
_settings: dict[str, Settings] = {}
_installed: list[Platform] = []
_lock = threading.Lock()
_serving: ContextVar[Platform | None] = ContextVar("agentic_mlops_serving", default=None)


@contextmanager
def serving(platform: Platform) -> Iterator[None]:
    """Answer the handlers called in this context from ``platform``."""
    reset_token = _serving.set(platform)
    try:
        yield
    finally:
        _serving.reset(reset_token)


def settings_for(function: str) -> Settings:
    """The settings ``function`` reads (validated once; the installed platform's when one
    is installed), without building anything. The first read also sets up the JSON logs.

    Raises:
        InvalidInput: a variable is not valid (the message names it).
    """
    scoped = _serving.get()
    if scoped is not None:
        return scoped.settings
    with _lock:
        if _installed:
            return _installed[0].settings
        if function not in _settings:
            from agentic_mlops.composition.parts import function_settings

            _settings[function] = function_settings(function)
        return _settings[function]


def platform(function: str) -> Platform:
    """The platform ``function`` runs on (the installed one, else built for it once).

    Raises:
        InvalidInput: its settings are not valid (the message names the variable).
    """
    scoped = _serving.get()
    if scoped is not None:
        return scoped
    settings = settings_for(function)
    with _lock:
        if _installed:
            return _installed[0]
        if function not in _platforms:
            from agentic_mlops.composition.platform import build_platform

            _platforms[function] = build_platform(settings, _ROLES[function])
        return _platforms[function]


def install(platform: Platform) -> None:
    """Serve every handler of this process from ``platform`` (the local server)."""
    with _lock:
        _installed[:] = [platform]


def reset() -> None:
    """Forget the platforms (closing those built here): tests, server shutdown."""
    with _lock:
        built = list(_platforms.values())
        _platforms.clear()
        _settings.clear()
        _installed.clear()
    for item in built:
        item.close()
