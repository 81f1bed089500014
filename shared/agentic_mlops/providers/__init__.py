"""Providers: the reasoning behind the nodes, behind one interface.

Importing this package is cheap: the Anthropic SDK, pybreaker and tenacity are imported only
when the Anthropic provider is created.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentic_mlops.errors import InvalidInput
from agentic_mlops.providers.base import Extraction, InvalidAnswer, OrchestrationProvider

__all__ = [
    "Extraction",
    "InvalidAnswer",
    "OrchestrationProvider",
    "get_provider",
    "provider_from_env",
]

PROVIDER_NAMES = ("auto", "offline", "anthropic")


def provider_from_env(env: Mapping[str, str] | None = None) -> OrchestrationProvider:
    """Return the provider the environment selects.

    ``AGENTIC_MLOPS_PROVIDER`` is ``auto`` (default), ``offline`` or ``anthropic``; ``auto``
    means Anthropic when ``ANTHROPIC_API_KEY`` or ``AGENTIC_MLOPS_ANTHROPIC_SECRET`` is set,
    else offline. The other variables are listed in ``docs/providers.md``.

    Args:
        env: the environment to read; ``os.environ`` when None.

    Raises:
        InvalidInput: for an unknown provider or a malformed setting.
    """
    from agentic_mlops.providers.settings import ProviderSettings

    settings = ProviderSettings.from_env(env)
    if settings.chosen_provider() == "offline":
        from agentic_mlops.providers.offline import OfflineProvider

        return OfflineProvider()
    from agentic_mlops.providers.anthropic_provider import AnthropicProvider

    return AnthropicProvider(settings)


def get_provider(name: str = "offline") -> OrchestrationProvider:
    """Return the provider registered under ``name``.

    ``offline`` is the deterministic rules provider; ``anthropic`` and ``auto`` are
    configured from the environment (see :func:`provider_from_env`).

    Raises:
        InvalidInput: if no provider has that name, or its configuration is malformed.
    """
    if name == "offline":
        from agentic_mlops.providers.offline import OfflineProvider

        return OfflineProvider()
    if name in PROVIDER_NAMES:
        import os

        return provider_from_env({**os.environ, "AGENTIC_MLOPS_PROVIDER": name})
    raise InvalidInput(f"unknown provider {name!r}; available: {', '.join(PROVIDER_NAMES)}")
