"""The artifact store's settings (a group of :class:`agentic_mlops.settings.Settings`)."""

from __future__ import annotations

from pathlib import Path

from agentic_mlops.configfield import SettingsGroup, env_field


class ArtifactSettings(SettingsGroup):
    """A local folder, or an S3 bucket (with an optional separate quarantine bucket)."""

    directory: Path | None = env_field(
        "AGENTIC_MLOPS_ARTIFACT_DIR",
        description="local artifact store (sources, bundles, `quarantine/`)",
        default_text="`$AGENTIC_MLOPS_HOME/artifacts`",
    )
    bucket: str | None = env_field(
        "AGENTIC_MLOPS_ARTIFACT_BUCKET",
        description="store artifacts in this S3 bucket instead (SSE-S3)",
        aws=True,
    )
    prefix: str = env_field(
        "AGENTIC_MLOPS_ARTIFACT_PREFIX", "", description="key prefix in that bucket", aws=True
    )
    quarantine_bucket: str | None = env_field(
        "AGENTIC_MLOPS_QUARANTINE_BUCKET",
        description="a separate bucket for quarantined payloads",
        default_text="the artifact bucket",
        aws=True,
    )
