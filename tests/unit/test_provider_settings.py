"""Provider selection and configuration from the environment.

Configuration alone switches a run between the offline provider and Anthropic; a bad value
is an InvalidInput naming the variable; choosing the offline provider imports no SDK.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from agentic_mlops.errors import InvalidInput
from agentic_mlops.providers import create_provider
from agentic_mlops.providers.anthropic_provider import AnthropicProvider
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.providers.settings import resolve_api_key
from agentic_mlops.settings import provider_settings


def test_without_a_key_the_offline_provider_is_used() -> None:
    # Given an environment with no Anthropic key or secret (the default "auto")
    # When the provider is chosen from it
    provider = create_provider(provider_settings({}))

    # Then it is the offline provider
    assert isinstance(provider, OfflineProvider)
    assert provider_settings({}).chosen_provider() == "offline"


@pytest.mark.parametrize(
    "env",
    [
        {"ANTHROPIC_API_KEY": "sk-test"},
        {"AGENTIC_MLOPS_ANTHROPIC_SECRET": "prod/anthropic"},
        {"AGENTIC_MLOPS_PROVIDER": "anthropic"},
        {"AGENTIC_MLOPS_PROVIDER": " Anthropic "},
    ],
)
def test_a_key_a_secret_or_an_explicit_choice_selects_anthropic(env: dict[str, str]) -> None:
    provider = create_provider(provider_settings(env))
    assert isinstance(provider, AnthropicProvider)


def test_an_explicit_offline_choice_wins_over_a_key() -> None:
    env = {"ANTHROPIC_API_KEY": "sk-test", "AGENTIC_MLOPS_PROVIDER": "offline"}
    assert isinstance(create_provider(provider_settings(env)), OfflineProvider)


def test_the_platform_variables_configure_models_limits_and_breakers() -> None:
    # Given every platform variable set
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": "http://gateway.internal",
        "AGENTIC_MLOPS_ANTHROPIC_MODEL": "claude-primary",
        "AGENTIC_MLOPS_ANTHROPIC_FALLBACK_MODEL": "claude-secondary",
        "AGENTIC_MLOPS_ANTHROPIC_MAX_TOKENS": "4000",
        "AGENTIC_MLOPS_ANTHROPIC_TIMEOUT_S": "12.5",
        "AGENTIC_MLOPS_ANTHROPIC_TEMPERATURE": "off",
        "AGENTIC_MLOPS_PROVIDER_RETRIES": "4",
        "AGENTIC_MLOPS_PROVIDER_RETRY_MAX_WAIT_S": "9",
        "AGENTIC_MLOPS_BREAKER_FAIL_MAX": "3",
        "AGENTIC_MLOPS_BREAKER_RESET_S": "120",
        "AGENTIC_MLOPS_OFFLINE_FALLBACK": "false",
    }

    # When the provider is built from it
    provider = create_provider(provider_settings(env))

    # Then each value reaches the provider's settings
    assert isinstance(provider, AnthropicProvider)
    settings = provider.settings
    assert provider.models == ["claude-primary", "claude-secondary"]
    assert settings.base_url == "http://gateway.internal"
    assert (settings.max_tokens, settings.timeout_s, settings.temperature) == (4000, 12.5, None)
    assert (settings.retries, settings.retry_max_wait_s) == (4, 9.0)
    assert (settings.breaker_fail_max, settings.breaker_reset_s) == (3, 120.0)
    assert settings.offline_fallback is False
    assert "offline=False" in repr(provider)


def test_defaults_are_a_two_model_chain_with_the_offline_fallback() -> None:
    settings = provider_settings({})
    assert settings.models() == ["claude-sonnet-5-5", "claude-haiku-5-5"]
    assert settings.offline_fallback is True
    assert settings.temperature == 0.0
    assert provider_settings({"AGENTIC_MLOPS_ANTHROPIC_FALLBACK_MODEL": "none"}).models() == [
        "claude-sonnet-5-5"
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENTIC_MLOPS_PROVIDER", "openai"),
        ("AGENTIC_MLOPS_BREAKER_FAIL_MAX", "abc"),
        ("AGENTIC_MLOPS_BREAKER_FAIL_MAX", "0"),
        ("AGENTIC_MLOPS_BREAKER_RESET_S", "-1"),
        ("AGENTIC_MLOPS_PROVIDER_RETRIES", "99"),
        ("AGENTIC_MLOPS_ANTHROPIC_MAX_TOKENS", "12"),
        ("AGENTIC_MLOPS_ANTHROPIC_TIMEOUT_S", "soon"),
        ("AGENTIC_MLOPS_ANTHROPIC_TEMPERATURE", "2"),
        ("AGENTIC_MLOPS_OFFLINE_FALLBACK", "perhaps"),
        ("AGENTIC_MLOPS_PACK_DIR", "/nonexistent/packs"),
    ],
)
def test_a_bad_value_is_an_invalid_input_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=name):
        create_provider(provider_settings({name: value}))


def test_the_api_key_is_never_echoed_in_an_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        create_provider(
            provider_settings({"ANTHROPIC_API_KEY": "sk-secret", "AGENTIC_MLOPS_PROVIDER": "x"})
        )
    assert "sk-secret" not in str(caught.value)


def test_the_one_factory_builds_the_provider_the_settings_choose() -> None:
    assert isinstance(create_provider(provider_settings({})), OfflineProvider)
    explicit = provider_settings({"AGENTIC_MLOPS_PROVIDER": "anthropic"})
    assert isinstance(create_provider(explicit), AnthropicProvider)
    keyed = provider_settings({"ANTHROPIC_API_KEY": "sk-test"})
    assert isinstance(create_provider(keyed), AnthropicProvider)
    with pytest.raises(InvalidInput, match="AGENTIC_MLOPS_PROVIDER='gpt'"):
        provider_settings({"AGENTIC_MLOPS_PROVIDER": "gpt"})


def test_choosing_a_provider_imports_no_sdk_until_a_model_is_called() -> None:
    # Given a fresh interpreter
    code = (
        "import sys\n"
        "from agentic_mlops.providers import create_provider\n"
        "from agentic_mlops.settings import provider_settings\n"
        "import agentic_mlops.workflow.nodes, agentic_mlops.tasks\n"
        "offline = create_provider(provider_settings({}))\n"
        "before = sorted(m for m in ('anthropic', 'pybreaker', 'claude_agent_sdk')"
        " if m in sys.modules)\n"
        "create_provider(provider_settings({'ANTHROPIC_API_KEY': 'sk-test'}))\n"
        "after = sorted(m for m in ('anthropic', 'claude_agent_sdk') if m in sys.modules)\n"
        "print(before, after)\n"
    )
    # When the offline provider and then the Anthropic provider are created
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    # Then neither SDK is imported (pybreaker only with the Anthropic provider)
    assert out.strip() == "[] []"


def test_the_key_comes_from_secrets_manager_in_lambda(monkeypatch) -> None:
    # Given a Secrets Manager secret holding the key as JSON, and another as plain text
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    json_name, text_name, empty_name = (f"anthropic-{uuid.uuid4().hex}" for _ in range(3))
    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager")
        client.create_secret(
            Name=json_name, SecretString=json.dumps({"ANTHROPIC_API_KEY": "sk-from-json"})
        )
        client.create_secret(Name=text_name, SecretString="sk-plain\n")
        client.create_secret(Name=empty_name, SecretString=json.dumps({"other": "x"}))

        # When the key is resolved through AGENTIC_MLOPS_ANTHROPIC_SECRET
        def key(name: str) -> str | None:
            return resolve_api_key(provider_settings({"AGENTIC_MLOPS_ANTHROPIC_SECRET": name}))

        # Then both forms give the key; a secret without one is an InvalidInput
        assert key(json_name) == "sk-from-json"
        assert key(text_name) == "sk-plain"
        with pytest.raises(InvalidInput, match="no ANTHROPIC_API_KEY"):
            key(empty_name)

    # And ANTHROPIC_API_KEY wins over the secret, which is then not read at all
    both = provider_settings(
        {"ANTHROPIC_API_KEY": "sk-env", "AGENTIC_MLOPS_ANTHROPIC_SECRET": "never-read"}
    )
    assert resolve_api_key(both) == "sk-env"
