"""Where the per-project history repositories live, and where generated repositories are
pushed (two settings groups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agentic_mlops.configfield import SettingsGroup, env_field


class HistorySettings(SettingsGroup):
    """The folder of the per-project git repositories of plan documents."""

    repos_dir: Path | None = env_field(
        "AGENTIC_MLOPS_REPOS_DIR",
        description="per-project git repositories of plan documents (in AWS: on EFS)",
        default_text="`$AGENTIC_MLOPS_HOME/repos`",
        aws=True,
    )


DEFAULT_BRANCH_PREFIX = "agentic-mlops/"
DEFAULT_AUTHOR = "agentic-mlops <platform@agentic-mlops.local>"


class DeliverySettings(SettingsGroup):
    """Where and how an approved run's generated repository is pushed (off by default)."""

    remote_url: str | None = env_field(
        "AGENTIC_MLOPS_DELIVERY_REMOTE",
        description="push each generated repository as a branch of this git remote (dulwich;"
        " HTTP(S), or SSH through the system's `ssh`); the decision record is the commit body",
        default_text="unset (off)",
        aws=True,
    )
    branch_prefix: str = env_field(
        "AGENTIC_MLOPS_DELIVERY_BRANCH_PREFIX",
        DEFAULT_BRANCH_PREFIX,
        description="prefix of the pushed branch; the decision set id follows it",
    )
    username: str | None = env_field(
        "AGENTIC_MLOPS_DELIVERY_USERNAME",
        description="HTTP(S) user name of the push",
        default_text="`x-access-token` when a token is set",
    )
    token: SecretStr | None = env_field(
        "AGENTIC_MLOPS_DELIVERY_TOKEN",
        description="HTTP(S) password or token of the push (never logged)",
    )
    token_secret: str | None = env_field(
        "AGENTIC_MLOPS_DELIVERY_TOKEN_SECRET",
        description="AWS: a Secrets Manager secret holding that token (read when pushing)",
        aws=True,
    )
    author: str = env_field(
        "AGENTIC_MLOPS_DELIVERY_AUTHOR",
        DEFAULT_AUTHOR,
        description="author and committer of the pushed commit",
    )

    @property
    def enabled(self) -> bool:
        """Whether a remote is configured."""
        return bool(self.remote_url)

    def credentials(self, secrets_client: Any = None) -> tuple[str | None, str | None]:
        """Return the HTTP(S) user name and password (the secret is read on demand)."""
        token = self.token.get_secret_value() if self.token is not None else None
        if token is None and self.token_secret:
            import boto3

            client = secrets_client or boto3.client("secretsmanager")
            token = client.get_secret_value(SecretId=self.token_secret)["SecretString"]
        username = self.username or ("x-access-token" if token else None)
        return username, token
