"""Providers: the reasoning behind the nodes, behind one interface."""

from agentic_mlops.providers.base import Extraction, InvalidAnswer, OrchestrationProvider

__all__ = ["Extraction", "InvalidAnswer", "OrchestrationProvider", "get_provider"]


def get_provider(name: str = "offline") -> OrchestrationProvider:
    """Return the provider registered under ``name``.

    Raises:
        ValueError: if no provider has that name.
    """
    if name == "offline":
        from agentic_mlops.providers.offline import OfflineProvider

        return OfflineProvider()
    raise ValueError(f"unknown provider {name!r}; available: offline")
