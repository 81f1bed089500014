"""The web app in a real browser: ``agentic-mlops serve``'s server on a free port (offline
provider, the session's embedded PostgreSQL) and Playwright driving Debian's chromium.

Without a browser the tests skip with :data:`NO_BROWSER`; ``scripts/bootstrap dev``
installs chromium where apt-get is usable as root. Screenshots of each main page go to
``build/e2e/`` (a test artifact; the README's pictures are copied from there).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import DEV_SECRET

from agentic_mlops.persistence import Database

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "e2e"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NO_BROWSER = (
    "no chromium found (install Debian's with `apt-get install -y chromium`, which"
    " `scripts/bootstrap dev` does as root)"
)


def find_browser() -> str | None:
    """The first Chromium-family browser on PATH."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def browser_path() -> str:
    path = find_browser()
    if path is None:
        pytest.skip(NO_BROWSER)
    return path


@pytest.fixture(scope="session")
def web_server(database: Database) -> Iterator[Any]:
    """The local server with the shipped web app, on 127.0.0.1 and a free port."""
    from agentic_mlops.local.server import LocalServer
    from agentic_mlops.settings import load_settings

    settings = load_settings(
        environ={**os.environ, "AGENTIC_MLOPS_DEV_TOKEN_SECRET": DEV_SECRET, "SLACK_BOT_TOKEN": ""}
    )
    server = LocalServer(settings, database=database, host="127.0.0.1", port=0)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def browser(browser_path: str) -> Iterator[Any]:
    """One browser per test module. Playwright's sync API keeps an event loop running on
    this thread until it stops, so it must stop before the rest of the suite: code that
    calls ``asyncio.run`` later in the same process would otherwise be refused."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=browser_path)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Pages in contexts of their own (one signed-in user each), closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(
            viewport=options.pop("viewport", {"width": 1280, "height": 900}),
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()
