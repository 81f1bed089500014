"""Per-project git history of approved plan documents (dulwich, no git binary).

The repository module (and dulwich) is imported on first use, not with the package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_AUTHOR": "agentic_mlops.vcs.config",
    "ProjectRepository": "agentic_mlops.vcs.repository",
    "RepositoryBusy": "agentic_mlops.vcs.repository",
    "repositories_under": "agentic_mlops.vcs.repository",
    "repository_path": "agentic_mlops.vcs.repository",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
