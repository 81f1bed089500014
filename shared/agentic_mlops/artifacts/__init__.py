"""Deterministic bundles and the content-addressed artifact store (local folder or S3)."""

from agentic_mlops.artifacts.bundle import (
    UnsafePath,
    build_zip,
    extract_zip,
    normalize_path,
    read_zip,
    sha256_hex,
)
from agentic_mlops.artifacts.store import (
    ArtifactCorrupted,
    ArtifactStore,
    ArtifactStoreError,
    LocalArtifactStore,
    S3ArtifactStore,
    StoredArtifact,
    open_artifact_store,
)

__all__ = [
    "ArtifactCorrupted",
    "ArtifactStore",
    "ArtifactStoreError",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "StoredArtifact",
    "UnsafePath",
    "build_zip",
    "extract_zip",
    "normalize_path",
    "open_artifact_store",
    "read_zip",
    "sha256_hex",
]
