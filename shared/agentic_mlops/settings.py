"""The platform's settings: the one place the environment is read.

:class:`Settings` (pydantic-settings) is composed of one group per part of the platform —
each group a small model declared next to the code it configures, its fields named after
their environment variables (:func:`agentic_mlops.configfield.env_field`). The
environment is read once, when :func:`load_settings` (or ``Settings()``) is called —
never at import time — and validated at once: a bad value is one
:class:`~agentic_mlops.errors.InvalidInput` naming the variable (never its value when it
is a secret).

Each deployed function reads only the groups it needs (:data:`FUNCTION_GROUPS`);
:data:`FUNCTION_VARIABLES` lists the variables the CDK app sets for each of them, and the
README's configuration table is generated from these models
(``python -m agentic_mlops.settings``) and tested against them.

Libraries keep reading their own variables (Powertools' ``POWERTOOLS_*``, LangSmith's
``LANGSMITH_*``, boto3's ``AWS_*``); the platform passes no value of its own through the
environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agentic_mlops.artifacts.config import ArtifactSettings
from agentic_mlops.configfield import DEFAULT_HOME, SettingsGroup, env_field
from agentic_mlops.errors import InvalidInput
from agentic_mlops.notifications.slack_config import SlackConfig
from agentic_mlops.persistence.config import DatabaseSettings
from agentic_mlops.providers.settings import ProviderSettings
from agentic_mlops.validation.config import ValidationSettings, ValidatorSettings
from agentic_mlops.vcs.config import DeliverySettings, HistorySettings


class LocalSettings(SettingsGroup):
    """The folder of everything kept on this machine."""

    home: Path = env_field(
        "AGENTIC_MLOPS_HOME",
        DEFAULT_HOME,
        description="local state folder (embedded database, artifacts, histories, tools)",
        default_text="`~/.agentic-mlops`",
        validate_default=True,
    )

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


class EngineSettings(SettingsGroup):
    """Which engine runs the workflow."""

    engine: Literal["local", "stepfunctions"] = env_field(
        "AGENTIC_MLOPS_ENGINE",
        "local",
        description="`local` runs the workflow in-process; `stepfunctions` starts executions of"
        " `AGENTIC_MLOPS_STATE_MACHINE_ARN` (commands then return at once; follow with"
        " `status`/`events`)",
        aws=True,
    )
    state_machine_arn: str | None = env_field(
        "AGENTIC_MLOPS_STATE_MACHINE_ARN",
        description="the workflow's state machine (with `stepfunctions`)",
        aws=True,
    )
    workers: int = env_field(
        "AGENTIC_MLOPS_WORKERS",
        2,
        description="`serve`: background workers running decision sets (in-process engine)",
        ge=1,
        le=64,
    )

    @field_validator("engine", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class CodegenSettings(SettingsGroup):
    """Who writes the repository of an approved plan."""

    codegen: Literal["offline", "agent"] = env_field(
        "AGENTIC_MLOPS_CODEGEN",
        "offline",
        description="`offline` renders templates; `agent` lets a Claude agent write the"
        " repository (extra `[agent]`; templates as fallback)",
    )
    agent_model: str | None = env_field(
        "AGENTIC_MLOPS_AGENT_MODEL", description="the agent code generator's model"
    )

    @field_validator("codegen", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            return {"offline-templates": "offline", "claude-agent": "agent"}.get(word, word)
        return value


class AuthSettings(SettingsGroup):
    """Who may call the APIs."""

    mode: Literal["dev", "claims"] = env_field(
        "AGENTIC_MLOPS_AUTH",
        "dev",
        description="`claims` accepts only API Gateway authorizer claims (set in AWS); `dev`"
        " also accepts development tokens",
        aws=True,
    )
    dev_token_secret: SecretStr | None = env_field(
        "AGENTIC_MLOPS_DEV_TOKEN_SECRET",
        description="the secret development tokens are signed with",
        default_text="`$AGENTIC_MLOPS_HOME/dev-token-secret`",
    )


class CognitoSettings(SettingsGroup):
    """The Cognito user pool of a deployment (whose tokens the WebSocket authorizer checks)."""

    user_pool_id: str | None = env_field(
        "AGENTIC_MLOPS_USER_POOL_ID",
        description="AWS: the Cognito user pool whose tokens the WebSocket authorizer accepts",
        aws=True,
    )
    user_pool_client_id: str | None = env_field(
        "AGENTIC_MLOPS_USER_POOL_CLIENT_ID",
        description="AWS: the web app's Cognito app client",
        aws=True,
    )


class ApiSettings(SettingsGroup):
    """How the APIs reach browsers."""

    cors_origin: str = env_field(
        "AGENTIC_MLOPS_CORS_ORIGIN",
        "*",
        description="the origin allowed to call the REST API from a browser",
        aws=True,
        min_length=1,
    )


class WebSettings(SettingsGroup):
    """The web app ``serve`` hosts, and its Cognito Hosted UI sign-in (``config.json``)."""

    dir: Path | None = env_field(
        "AGENTIC_MLOPS_WEB_DIR",
        description="`serve`: the built web app to serve (a folder with `index.html`)",
        default_text="the shipped build (`agentic_mlops/local/web_dist`)",
    )
    cognito_domain: str | None = env_field(
        "AGENTIC_MLOPS_WEB_COGNITO_DOMAIN",
        description="the Cognito Hosted UI domain the web app signs in with (authorization"
        " code + PKCE; its client is `AGENTIC_MLOPS_USER_POOL_CLIENT_ID`); unset: development"
        " tokens",
    )
    redirect_uri: str | None = env_field(
        "AGENTIC_MLOPS_WEB_REDIRECT_URI",
        description="the Hosted UI's redirect (callback) URL",
        default_text="the web app's own URL",
    )
    scopes: str = env_field(
        "AGENTIC_MLOPS_WEB_SCOPES",
        "openid email profile",
        description="the OAuth scopes the web app asks the Hosted UI for",
    )


class StreamingSettings(SettingsGroup):
    """Where events are posted to WebSocket clients."""

    ws_endpoint: str | None = env_field(
        "AGENTIC_MLOPS_WS_ENDPOINT",
        description="the `@connections` endpoint to post to",
        default_text="from the connection (`serve` sets its own)",
        aws=True,
    )
    region: str | None = env_field(
        "AWS_REGION",
        description="the AWS region (set by Lambda; boto3 reads it too)",
        default_text="boto3's default",
    )


class LoggingSettings(SettingsGroup):
    """How much the platform logs (JSON lines)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = env_field(
        "AGENTIC_MLOPS_LOG_LEVEL",
        "WARNING",
        description="level of the JSON log lines (`serve` and the functions: on stdout)",
        aws=True,
    )
    cli_log: Path | None = env_field(
        "AGENTIC_MLOPS_CLI_LOG",
        description="where the CLI appends its JSON log lines (its terminal output stays readable)",
        default_text="`$AGENTIC_MLOPS_HOME/logs/cli.jsonl`",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


Group = Literal[
    "local",
    "database",
    "engine",
    "provider",
    "codegen",
    "artifacts",
    "history",
    "auth",
    "cognito",
    "api",
    "web",
    "streaming",
    "slack",
    "validation",
    "validator",
    "delivery",
    "logging",
]


class Settings(BaseSettings):
    """Everything the platform reads from its environment, validated once."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    local: LocalSettings = LocalSettings()
    database: DatabaseSettings = DatabaseSettings()
    engine: EngineSettings = EngineSettings()
    provider: ProviderSettings = ProviderSettings()
    codegen: CodegenSettings = CodegenSettings()
    artifacts: ArtifactSettings = ArtifactSettings()
    history: HistorySettings = HistorySettings()
    auth: AuthSettings = AuthSettings()
    cognito: CognitoSettings = CognitoSettings()
    api: ApiSettings = ApiSettings()
    web: WebSettings = WebSettings()
    streaming: StreamingSettings = StreamingSettings()
    slack: SlackConfig = SlackConfig()
    validation: ValidationSettings = ValidationSettings()
    validator: ValidatorSettings = ValidatorSettings()
    delivery: DeliverySettings = DeliverySettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _GroupedEnvironment(settings_cls))

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], groups: tuple[Group, ...] | None = None
    ) -> Settings:
        """Read the settings from ``environ`` (tests, tools); see :func:`load_settings`."""
        return load_settings(groups, environ=environ)

    @property
    def home(self) -> Path:
        """The local state folder."""
        return self.local.home


_SCOPE: ContextVar[tuple[Mapping[str, str] | None, tuple[str, ...] | None]] = ContextVar(
    "settings_scope", default=(None, None)
)


class _GroupedEnvironment(PydanticBaseSettingsSource):
    """Reads each group's variables (its fields' aliases); blank values count as unset."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        environ, groups = _SCOPE.get()
        self._environ = os.environ if environ is None else environ
        self._groups = groups

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads whole groups

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, model in _group_models().items():
            if self._groups is not None and name not in self._groups:
                continue
            values = {}
            for field in model.model_fields.values():
                value = self._environ.get(str(field.alias))
                if value is not None and value.strip():
                    values[str(field.alias)] = value.strip()
            data[name] = values
        return data


def _group_models() -> dict[str, type[BaseModel]]:
    return {
        name: field.annotation  # type: ignore[misc]
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


def load_settings(
    groups: tuple[Group, ...] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the settings.

    Args:
        groups: read only these groups (a deployed function reads what it needs; the
            other groups keep their defaults); None reads all.
        environ: the environment (default: the process's).

    Raises:
        InvalidInput: naming each variable whose value is not acceptable.
    """
    token = _SCOPE.set((environ, groups))
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidInput(describe(exc)) from None
    finally:
        _SCOPE.reset(token)


def provider_settings(environ: Mapping[str, str] | None = None) -> ProviderSettings:
    """Only the provider group (tools and tests that build a provider by hand).

    Raises:
        InvalidInput: naming each bad variable.
    """
    return load_settings(("provider",), environ=environ).provider


_HIDDEN = ("TOKEN", "SECRET", "KEY", "PASSWORD", "DATABASE_URL", "USERS")


def describe(exc: ValidationError) -> str:
    """One readable line per problem: the variable, its value unless it may hold a secret,
    and what is wrong."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if len(loc) <= 1:
            problems.append(message)
            continue
        name = loc[1]
        where = name + "".join(f"[{part}]" for part in loc[2:])
        value = error.get("input")
        shown = ""
        if len(loc) == 2 and isinstance(value, str) and not any(h in name for h in _HIDDEN):
            shown = f"={value[:80]!r}"
        problems.append(f"{where}{shown}: {message}")
    return "invalid configuration: " + "; ".join(problems)


# functions and their environment ---------------------------------------------------------

FUNCTION_GROUPS: dict[str, tuple[Group, ...]] = {
    "api": (
        "database",
        "engine",
        "provider",
        "artifacts",
        "history",
        "auth",
        "api",
        "streaming",
        "slack",
    ),
    "websocket": ("database", "auth", "streaming"),
    "ws_authorizer": ("cognito",),
    "slack": ("database", "engine", "slack", "streaming"),
    "node_runner": (
        "database",
        "provider",
        "codegen",
        "artifacts",
        "history",
        "validation",
        "validator",
        "delivery",
        "slack",
        "streaming",
    ),
    "wait_registrar": (
        "database",
        "engine",
        "provider",
        "artifacts",
        "history",
        "slack",
        "streaming",
    ),
    "failure_handler": ("database", "provider", "artifacts", "history", "streaming"),
    "validator": ("validation", "artifacts"),
    "migrator": ("database",),
}
"""The settings groups each deployed function reads (the rest keep their defaults)."""


def _aws_variables(groups: tuple[Group, ...]) -> frozenset[str]:
    models = _group_models()
    names = {"AGENTIC_MLOPS_LOG_LEVEL"}
    for group in groups:
        for field in models[group].model_fields.values():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get("aws"):
                names.add(str(field.alias))
    return frozenset(names)


FUNCTION_VARIABLES: dict[str, frozenset[str]] = {
    function: _aws_variables(groups) for function, groups in FUNCTION_GROUPS.items()
}
"""The environment variables the CDK app sets for each function: exactly these."""


# the README's table ---------------------------------------------------------------------


def variables() -> Iterator[tuple[str, str, str, str]]:
    """(group, variable, default as shown, description) for every setting, in model order."""
    for group, model in _group_models().items():
        for field in model.model_fields.values():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            shown = extra.get("default_text")
            if shown is None:
                default = field.get_default(call_default_factory=True)
                shown = "unset" if default in (None, {}, "") else f"`{default}`"
            yield group, str(field.alias), str(shown), str(field.description or "")


def configuration_table() -> str:
    """The README's configuration table (Markdown), generated from the models."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [
        f"| `{name}` | {default} | {description} |"
        for _group, name, default, description in variables()
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m agentic_mlops.settings: print the table
    sys.stdout.write(configuration_table() + "\n")
