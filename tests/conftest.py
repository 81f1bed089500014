"""Shared fixtures: one PostgreSQL for the session (DATABASE_URL, or an embedded server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from agentic_mlops.persistence import Database, open_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DATABASE_URL when set; otherwise an embedded server deleted at the end of the session."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from agentic_mlops.persistence.database import start_embedded

    return start_embedded(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    """The migrated database with the platform store and LangGraph's saver."""
    with open_database(database_url, max_size=20) as db:
        yield db


class EventRecorder:
    """Collects streamed event messages."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def types(self) -> list[str]:
        return [m["type"] for m in self.messages]


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()


@pytest.fixture
def engine(database: Database, recorder: EventRecorder):
    from agentic_mlops.engines.local import LocalEngine
    from agentic_mlops.providers.offline import OfflineProvider

    return LocalEngine(database, OfflineProvider(), on_event=recorder)
