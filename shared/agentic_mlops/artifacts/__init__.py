"""Deterministic bundles and the content-addressed artifact store (local folder or S3).

The names below are imported on first use: a process that only reads its settings
(``artifacts.config``) never loads the store (nor boto3).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "UnsafePath": "agentic_mlops.artifacts.bundle",
    "build_zip": "agentic_mlops.artifacts.bundle",
    "extract_zip": "agentic_mlops.artifacts.bundle",
    "normalize_path": "agentic_mlops.artifacts.bundle",
    "read_zip": "agentic_mlops.artifacts.bundle",
    "sha256_hex": "agentic_mlops.artifacts.bundle",
    "ArtifactCorrupted": "agentic_mlops.artifacts.store",
    "ArtifactStore": "agentic_mlops.artifacts.store",
    "ArtifactStoreError": "agentic_mlops.artifacts.store",
    "LocalArtifactStore": "agentic_mlops.artifacts.store",
    "S3ArtifactStore": "agentic_mlops.artifacts.store",
    "StoredArtifact": "agentic_mlops.artifacts.store",
    "create_artifact_store": "agentic_mlops.artifacts.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
