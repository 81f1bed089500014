"""Shared fixtures: one PostgreSQL for the session (DATABASE_URL, or an embedded server)."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic_mlops.persistence import Database, open_database


@pytest.fixture(scope="session", autouse=True)
def isolated_platform_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Artifacts and project histories of the tests go to a throwaway folder, not $HOME."""
    root = tmp_path_factory.mktemp("platform")
    saved = {name: os.environ.get(name) for name in _DIR_VARIABLES}
    os.environ["AGENTIC_MLOPS_ARTIFACT_DIR"] = str(root / "artifacts")
    os.environ["AGENTIC_MLOPS_REPOS_DIR"] = str(root / "repos")
    yield root
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_DIR_VARIABLES = ("AGENTIC_MLOPS_ARTIFACT_DIR", "AGENTIC_MLOPS_REPOS_DIR")

_PROVIDER_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "AGENTIC_MLOPS_ANTHROPIC_SECRET",
    "AGENTIC_MLOPS_PROVIDER",
    "AGENTIC_MLOPS_CODEGEN",
    "AGENTIC_MLOPS_PACK_DIR",
)


@pytest.fixture(autouse=True)
def offline_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs on the offline provider and templates unless it configures another:
    a developer's own Anthropic key never reaches the suite."""
    for name in _PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# At exit the embedded server is stopped and its folder deleted; when pg_ctl's polite stop
# is refused pgserver terminates it and warns, which is expected for a throwaway server.
logging.getLogger("pgserver").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def database_url() -> str:
    """DATABASE_URL when set; otherwise an embedded server deleted at the end of the session.

    Its folder is not under pytest's base temporary directory: every pytest session of the
    same user (another checkout's suite, a generated repository's tests) resets
    ``pytest-of-USER`` to mode 0700, and the server, which runs as its own user, would then
    lose its data directory mid-session.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from agentic_mlops.persistence.database import start_embedded

    folder = Path(tempfile.mkdtemp(prefix="agentic-mlops-test-pg-"))
    atexit.register(shutil.rmtree, folder, True)  # runs after pgserver's own cleanup (LIFO)
    return start_embedded(folder / "data", cleanup_mode="delete")


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    """The migrated database with the platform store and LangGraph's saver."""
    with open_database(database_url, max_size=20, migrate=True) as db:
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
    """The real platform on the session database (the in-process engine, inline), driven
    as the tests need it (see ``harness.Harness``)."""
    from harness import Harness

    from agentic_mlops.providers.offline import OfflineProvider

    platform = Harness(database, OfflineProvider(), on_event=recorder)
    yield platform
    platform.close()
