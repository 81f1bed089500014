"""The composition root: the one place the platform is assembled from its settings.

:func:`build_platform` (:mod:`~agentic_mlops.composition.platform`) wires the database,
store, provider, code generator, artifact store, workflow runner, engine, live streams,
Slack notifier and the application service for one kind of process (:data:`Role`): the
CLI, ``serve``, or a deployed function. Each pluggable part has one factory, chosen by
:class:`~agentic_mlops.settings.Settings`; the parts a process can use without a platform
are in :mod:`~agentic_mlops.composition.parts`. Names are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentic_mlops.composition.parts import (
        EventSink,
        Role,
        checkpoint_serializer,
        create_artifact_store_for,
        create_validator,
        dev_token_secret,
        function_settings,
        migrate,
        open_platform_database,
        secret_values,
        validation_tools,
    )
    from agentic_mlops.composition.platform import (
        Platform,
        answer_parser,
        build_platform,
        create_engine,
        create_repositories,
        create_runner,
        lazy_provider,
    )

_PARTS = "agentic_mlops.composition.parts"
_PLATFORM = "agentic_mlops.composition.platform"
_EXPORTS = {
    "EventSink": _PARTS,
    "Role": _PARTS,
    "checkpoint_serializer": _PARTS,
    "create_artifact_store_for": _PARTS,
    "create_validator": _PARTS,
    "dev_token_secret": _PARTS,
    "function_settings": _PARTS,
    "migrate": _PARTS,
    "open_platform_database": _PARTS,
    "secret_values": _PARTS,
    "validation_tools": _PARTS,
    "Platform": _PLATFORM,
    "answer_parser": _PLATFORM,
    "build_platform": _PLATFORM,
    "create_engine": _PLATFORM,
    "create_repositories": _PLATFORM,
    "create_runner": _PLATFORM,
    "lazy_provider": _PLATFORM,
}

__all__ = [
    "EventSink",
    "Platform",
    "Role",
    "answer_parser",
    "build_platform",
    "checkpoint_serializer",
    "create_artifact_store_for",
    "create_engine",
    "create_repositories",
    "create_runner",
    "create_validator",
    "dev_token_secret",
    "function_settings",
    "lazy_provider",
    "migrate",
    "open_platform_database",
    "secret_values",
    "validation_tools",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
