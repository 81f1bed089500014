"""The deterministic offline provider (``OfflineProvider`` in :mod:`.provider`)."""

from __future__ import annotations

from typing import Any

__all__ = ["OfflineProvider"]


def __getattr__(name: str) -> Any:
    if name == "OfflineProvider":
        from agentic_mlops.providers.offline.provider import OfflineProvider

        return OfflineProvider
    raise AttributeError(name)
