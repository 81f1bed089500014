"""Providers: the reasoning behind the nodes, behind one interface.

Importing this package is cheap: each name is imported from its module on first use, and
the Anthropic SDK, pybreaker and tenacity only when the Anthropic provider is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentic_mlops.providers.base import Extraction, InvalidAnswer, OrchestrationProvider
    from agentic_mlops.providers.factory import LazyProvider, create_provider

_EXPORTS = {
    "Extraction": "agentic_mlops.providers.base",
    "InvalidAnswer": "agentic_mlops.providers.base",
    "OrchestrationProvider": "agentic_mlops.providers.base",
    "LazyProvider": "agentic_mlops.providers.factory",
    "create_provider": "agentic_mlops.providers.factory",
}

__all__ = [
    "Extraction",
    "InvalidAnswer",
    "LazyProvider",
    "OrchestrationProvider",
    "create_provider",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
