"""Provider configuration, read from the environment into one validated model.

Nothing here imports the ``anthropic`` SDK: choosing the offline provider must stay cheap.
Every variable is documented in ``docs/providers.md``; a bad value is an
:class:`~agentic_mlops.errors.InvalidInput` naming the variable, never a stack trace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from agentic_mlops.errors import InvalidInput

PROVIDER_ENV = "AGENTIC_MLOPS_PROVIDER"
SECRET_ENV = "AGENTIC_MLOPS_ANTHROPIC_SECRET"
API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"

DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_FALLBACK_MODEL = "claude-haiku-5-5"
SECRET_MAX_AGE_S = 300

_FALSE = {"0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on"}


class ProviderSettings(BaseModel):
    """Which provider answers the nodes, and how the Anthropic provider behaves.

    Field aliases are the environment variables; build it with :meth:`from_env`.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    provider: Literal["auto", "offline", "anthropic"] = Field(default="auto", alias=PROVIDER_ENV)
    api_key: SecretStr | None = Field(default=None, alias=API_KEY_ENV)
    secret_id: str | None = Field(default=None, alias=SECRET_ENV)
    base_url: str | None = Field(default=None, alias=BASE_URL_ENV)
    model: str = Field(default=DEFAULT_MODEL, min_length=1, alias="AGENTIC_MLOPS_ANTHROPIC_MODEL")
    fallback_model: str | None = Field(
        default=DEFAULT_FALLBACK_MODEL, alias="AGENTIC_MLOPS_ANTHROPIC_FALLBACK_MODEL"
    )
    max_tokens: int = Field(
        default=8192, ge=256, le=128_000, alias="AGENTIC_MLOPS_ANTHROPIC_MAX_TOKENS"
    )
    timeout_s: float = Field(default=60.0, gt=0, le=900, alias="AGENTIC_MLOPS_ANTHROPIC_TIMEOUT_S")
    temperature: float | None = Field(
        default=0.0, ge=0, le=1, alias="AGENTIC_MLOPS_ANTHROPIC_TEMPERATURE"
    )
    retries: int = Field(default=2, ge=0, le=10, alias="AGENTIC_MLOPS_PROVIDER_RETRIES")
    retry_max_wait_s: float = Field(
        default=30.0, ge=0, le=600, alias="AGENTIC_MLOPS_PROVIDER_RETRY_MAX_WAIT_S"
    )
    breaker_fail_max: int = Field(default=5, ge=1, le=1000, alias="AGENTIC_MLOPS_BREAKER_FAIL_MAX")
    breaker_reset_s: float = Field(
        default=60.0, gt=0, le=86_400, alias="AGENTIC_MLOPS_BREAKER_RESET_S"
    )
    offline_fallback: bool = Field(default=True, alias="AGENTIC_MLOPS_OFFLINE_FALLBACK")
    pack_dir: Path | None = Field(default=None, alias="AGENTIC_MLOPS_PACK_DIR")

    @field_validator("provider", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("fallback_model", "secret_id", "base_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "off"}:
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("temperature", mode="before")
    @classmethod
    def _temperature(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "off", "omit"}:
            return None
        return value

    @field_validator("pack_dir")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_dir():
            raise ValueError(f"{str(value)!r} is not a folder of few-shot packs")
        return value

    @field_validator("offline_fallback", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProviderSettings:
        """Read the settings from ``env`` (``os.environ`` when None).

        Raises:
            InvalidInput: naming the first variable whose value is not acceptable.
        """
        env = os.environ if env is None else env
        aliases = {field.alias for field in cls.model_fields.values() if field.alias}
        values = {name: env[name] for name in aliases if env.get(name) not in (None, "")}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InvalidInput(_describe(exc)) from exc

    @property
    def has_credentials(self) -> bool:
        """Whether an API key or a Secrets Manager secret is configured."""
        return self.api_key is not None or self.secret_id is not None

    def chosen_provider(self) -> Literal["offline", "anthropic"]:
        """Resolve ``auto``: Anthropic when a key or a secret is configured, else offline."""
        if self.provider == "auto":
            return "anthropic" if self.has_credentials else "offline"
        return self.provider

    def models(self) -> list[str]:
        """The model chain: the primary model, then the secondary one (if distinct)."""
        chain = [self.model]
        if self.fallback_model and self.fallback_model != self.model:
            chain.append(self.fallback_model)
        return chain


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "configuration"
        value = error.get("input")
        shown = "(hidden)" if name == API_KEY_ENV else repr(value)
        problems.append(f"{name}={shown}: {error['msg']}")
    return "invalid provider configuration: " + "; ".join(problems)


def resolve_api_key(settings: ProviderSettings) -> str | None:
    """Return the API key: ``ANTHROPIC_API_KEY``, else the Secrets Manager secret.

    The secret (``AGENTIC_MLOPS_ANTHROPIC_SECRET``, a name or ARN) is read with Powertools
    Parameters, cached for :data:`SECRET_MAX_AGE_S` seconds; it holds either the key itself
    or a JSON object with an ``ANTHROPIC_API_KEY`` (or ``api_key``) entry. Returns None when
    neither is configured (the SDK then resolves its own credentials).

    Raises:
        InvalidInput: if the secret holds no key.
    """
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    if settings.secret_id is None:
        return None
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_secret(settings.secret_id, max_age=SECRET_MAX_AGE_S)
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    return _key_from_secret(text.strip(), settings.secret_id)


def _key_from_secret(text: str, secret_id: str) -> str:
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"secret {secret_id} is not valid JSON") from exc
        for name in (API_KEY_ENV, "api_key", "apiKey"):
            if isinstance(document, dict) and isinstance(document.get(name), str):
                return str(document[name]).strip()
        raise InvalidInput(f"secret {secret_id} has no {API_KEY_ENV} entry")
    if not text:
        raise InvalidInput(f"secret {secret_id} is empty")
    return text
