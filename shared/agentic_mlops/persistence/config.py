"""The database settings (a group of :class:`agentic_mlops.settings.Settings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from agentic_mlops.configfield import SettingsGroup, env_field


class DatabaseSettings(SettingsGroup):
    """Where PostgreSQL is, and how checkpoints are protected at rest."""

    url: SecretStr | None = env_field(
        "DATABASE_URL",
        description="PostgreSQL to use; unset starts the embedded server",
        default_text="unset",
    )
    secret_arn: str | None = env_field(
        "AGENTIC_MLOPS_DB_SECRET_ARN",
        description="AWS: the Secrets Manager secret holding the database credentials (the"
        " JSON secret RDS generates)",
        aws=True,
    )
    host: str | None = env_field(
        "AGENTIC_MLOPS_DB_HOST",
        description="AWS: the RDS Proxy endpoint (overrides the secret's host)",
        aws=True,
    )
    pgdata: Path | None = env_field(
        "AGENTIC_MLOPS_PGDATA",
        description="embedded PostgreSQL data directory (kept between runs; the server stops"
        " when the last process using it exits)",
        default_text="`$AGENTIC_MLOPS_HOME/pgdata`",
    )
    checkpoint_key: SecretStr | None = env_field(
        "LANGGRAPH_AES_KEY",
        description="AES key (16, 24 or 32 bytes) encrypting checkpoints at rest",
        default_text="unset (not encrypted)",
    )
    checkpoint_key_secret: str | None = env_field(
        "AGENTIC_MLOPS_CHECKPOINT_KEY_SECRET",
        description="AWS: the Secrets Manager secret holding that AES key",
        aws=True,
    )

    @property
    def configured(self) -> bool:
        """Whether a server is configured (else the embedded one is started)."""
        return self.url is not None or self.secret_arn is not None
