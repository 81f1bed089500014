"""The parts of the platform a process may need without the whole platform: its settings,
the database, the artifact store, the validators and the secrets to keep out of the logs.

Light to import (every dependency is imported where it is used): the functions that never
build a platform — the migration, the validator, the WebSocket authorizer — use these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.artifacts.store import ArtifactStore
    from agentic_mlops.persistence import Database
    from agentic_mlops.settings import Group, Settings
    from agentic_mlops.validation.remote import RepositoryValidator
    from agentic_mlops.validation.tools import ValidationTools

Role = Literal["cli", "serve", "api", "websocket", "slack", "workflow"]
"""What a process does: which parts it needs and how it treats the schema."""
_MIGRATES: frozenset[str] = frozenset({"cli", "serve"})
_POOL_SIZE = {"cli": 8, "serve": 24, "api": 4, "websocket": 2, "slack": 2, "workflow": 2}
EventSink = Callable[[dict[str, Any]], None]


def function_settings(function: str, extra: tuple[Group, ...] = ()) -> Settings:
    """The settings a deployed ``function`` reads (its groups, with the logging and local
    ones), with the JSON logs set up to redact their secrets.

    Raises:
        InvalidInput: a variable is not valid (the message names it).
    """
    from agentic_mlops.observability import configure_logging
    from agentic_mlops.settings import FUNCTION_GROUPS, load_settings

    loaded = load_settings((*FUNCTION_GROUPS[function], *extra, "logging", "local"))
    configure_logging(loaded.logging.level, secrets=secret_values(loaded), replace_all=True)
    return loaded


def open_platform_database(settings: Settings, role: Role) -> Database:
    """Open the configured database (migrating it for the CLI and ``serve``)."""
    from agentic_mlops.persistence import open_database
    from agentic_mlops.persistence.database import resolve_database_url

    url = resolve_database_url(settings.database, settings.home)
    return open_database(
        url,
        max_size=_POOL_SIZE[role],
        migrate=role in _MIGRATES,
        serde=checkpoint_serializer(settings),
    )


def migrate(settings: Settings) -> list[int]:
    """Apply the pending migrations to the configured database; return their versions
    (``agentic-mlops migrate`` and the migration function run at deploy)."""
    from agentic_mlops.persistence import connect_database
    from agentic_mlops.persistence.database import resolve_database_url
    from agentic_mlops.persistence.migrations import migrate_database

    url = resolve_database_url(settings.database, settings.home)
    database = connect_database(url, max_size=1, serde=checkpoint_serializer(settings))
    try:
        return migrate_database(database)
    finally:
        database.close()


def checkpoint_serializer(settings: Settings) -> Any:
    """LangGraph's encrypting serializer when a checkpoint key is configured (AES; the
    key from ``LANGGRAPH_AES_KEY`` or the Secrets Manager secret), else None; pickle is
    never a fallback.

    Raises:
        InvalidInput: a key that is not 16, 24 or 32 bytes long.
    """
    db = settings.database
    if db.checkpoint_key is None and db.checkpoint_key_secret is None:
        return None
    if db.checkpoint_key is not None:
        key = db.checkpoint_key.get_secret_value().encode("utf-8")
        source = "LANGGRAPH_AES_KEY"
    else:
        from aws_lambda_powertools.utilities import parameters

        raw = parameters.get_secret(db.checkpoint_key_secret, max_age=300)  # type: ignore[arg-type]
        key = raw if isinstance(raw, bytes) else str(raw).strip().encode("utf-8")
        source = "AGENTIC_MLOPS_CHECKPOINT_KEY_SECRET"
    if len(key) not in (16, 24, 32):
        raise InvalidInput(f"{source}: the AES key must be 16, 24 or 32 bytes long")
    from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return EncryptedSerializer.from_pycryptodome_aes(
        serde=JsonPlusSerializer(pickle_fallback=False), key=key
    )


def create_artifact_store_for(settings: Settings) -> ArtifactStore:
    """The configured artifact store (S3 or a local folder)."""
    from agentic_mlops.artifacts.store import create_artifact_store

    return create_artifact_store(settings.artifacts, settings.home)


def create_validator(settings: Settings, artifacts: ArtifactStore) -> RepositoryValidator:
    """Where generated repositories are validated: this machine's sandbox with the
    configured tools, or the isolated validator function (``AGENTIC_MLOPS_VALIDATOR``)."""
    from agentic_mlops.validation.remote import SandboxValidator, lambda_validator

    if settings.validator.mode == "lambda":
        return lambda_validator(settings.validator.function, artifacts)
    return SandboxValidator(validation_tools(settings))


def validation_tools(settings: Settings) -> ValidationTools:
    """The validators' programs, from the settings (or what bootstrap installed)."""
    from agentic_mlops.validation.tools import ValidationTools

    return ValidationTools.resolve(settings.validation, settings.home)


def dev_token_secret(settings: Settings) -> str:
    """The secret development tokens (and local download links) are signed with:
    ``AGENTIC_MLOPS_DEV_TOKEN_SECRET``, else a random one created once in
    ``$AGENTIC_MLOPS_HOME/dev-token-secret`` (mode 0600)."""
    import os
    import secrets

    if settings.auth.dev_token_secret is not None:
        return settings.auth.dev_token_secret.get_secret_value()
    path: Path = settings.home / "dev-token-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created meanwhile by another process
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def secret_values(settings: Settings) -> list[str]:
    """Every secret value the settings hold (kept out of the logs)."""
    from pydantic import SecretStr

    found: list[str] = []
    for group in (getattr(settings, name) for name in type(settings).model_fields):
        for value in vars(group).values():
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
    url = settings.database.url
    if url is not None:
        from psycopg.conninfo import conninfo_to_dict

        try:
            password = conninfo_to_dict(url.get_secret_value()).get("password")
        except Exception:  # an unparsable URL: the connection will say so
            password = None
        if password:
            found.append(str(password))
    remote = settings.delivery.remote_url
    if remote:
        from urllib.parse import urlsplit

        remote_password = urlsplit(remote).password
        if remote_password:
            found.append(remote_password)
    return found
