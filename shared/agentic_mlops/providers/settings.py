"""Provider configuration: one validated settings group of the platform's settings.

Nothing here imports the ``anthropic`` SDK: choosing the offline provider must stay cheap.
Every variable is documented in ``docs/providers.md``; a bad value is an
:class:`~agentic_mlops.errors.InvalidInput` naming the variable, never a stack trace
(raised when :class:`agentic_mlops.settings.Settings` is loaded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, field_validator

from agentic_mlops.configfield import SettingsGroup, env_field
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


class ProviderSettings(SettingsGroup):
    """Which provider answers the nodes, and how the Anthropic provider behaves.

    Field aliases are the environment variables; :class:`agentic_mlops.settings.Settings`
    reads them (this model never touches the environment itself).
    """

    provider: Literal["auto", "offline", "anthropic"] = env_field(
        PROVIDER_ENV,
        "auto",
        description="orchestration provider: offline unless an Anthropic key is configured"
        " (see [LLM providers](#llm-providers))",
        aws=True,
    )
    api_key: SecretStr | None = env_field(
        API_KEY_ENV, description="Anthropic API key (locally)", default_text="unset"
    )
    secret_id: str | None = env_field(
        SECRET_ENV,
        description="Secrets Manager secret (name or ARN) holding the Anthropic key",
        aws=True,
    )
    base_url: str | None = env_field(BASE_URL_ENV, description="Anthropic API base URL")
    model: str = env_field(
        "AGENTIC_MLOPS_ANTHROPIC_MODEL",
        DEFAULT_MODEL,
        description="primary model",
        min_length=1,
    )
    fallback_model: str | None = env_field(
        "AGENTIC_MLOPS_ANTHROPIC_FALLBACK_MODEL",
        DEFAULT_FALLBACK_MODEL,
        description="secondary model (`none` for no fallback model)",
    )
    max_tokens: int = env_field(
        "AGENTIC_MLOPS_ANTHROPIC_MAX_TOKENS",
        8192,
        description="maximum output tokens per call",
        ge=256,
        le=128_000,
    )
    timeout_s: float = env_field(
        "AGENTIC_MLOPS_ANTHROPIC_TIMEOUT_S",
        60.0,
        description="timeout of one model call, seconds",
        gt=0,
        le=900,
    )
    temperature: float | None = env_field(
        "AGENTIC_MLOPS_ANTHROPIC_TEMPERATURE",
        0.0,
        description="sampling temperature where the SDK accepts it (`omit` to leave it out)",
        ge=0,
        le=1,
    )
    retries: int = env_field(
        "AGENTIC_MLOPS_PROVIDER_RETRIES",
        2,
        description="retries of a transient failure per model",
        ge=0,
        le=10,
    )
    retry_max_wait_s: float = env_field(
        "AGENTIC_MLOPS_PROVIDER_RETRY_MAX_WAIT_S",
        30.0,
        description="longest retry-after honoured, seconds",
        ge=0,
        le=600,
    )
    breaker_fail_max: int = env_field(
        "AGENTIC_MLOPS_BREAKER_FAIL_MAX",
        5,
        description="transient failures that open a model's circuit breaker",
        ge=1,
        le=1000,
    )
    breaker_reset_s: float = env_field(
        "AGENTIC_MLOPS_BREAKER_RESET_S",
        60.0,
        description="seconds an open breaker waits before a trial call",
        gt=0,
        le=86_400,
    )
    offline_fallback: bool = env_field(
        "AGENTIC_MLOPS_OFFLINE_FALLBACK",
        True,
        description="fall back to the offline provider when every model is unavailable",
    )
    pack_dir: Path | None = env_field(
        "AGENTIC_MLOPS_PACK_DIR",
        description="a folder of few-shot packs replacing the shipped ones",
        default_text="the shipped packs",
    )

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
