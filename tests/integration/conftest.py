"""The local API server (emulated API Gateway) on a free port, for the interface tests.

Slack is configured for the session against a fake Slack (a local HTTP server playing the
Web API and the response_urls), so approvals are posted there and clicks can be signed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import slack_fakes
from api_client import DEV_SECRET

from agentic_mlops.persistence import Database

SLACK_USER_NAME = "sam"


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[slack_fakes.FakeSlack]:
    with slack_fakes.FakeSlack().running() as fake:
        yield fake


@pytest.fixture(scope="session")
def api_server(database: Database, fake_slack: slack_fakes.FakeSlack) -> Iterator[Any]:
    """``agentic-mlops serve``'s server on 127.0.0.1 and a free port, with the session DB."""
    from agentic_mlops.local.server import LocalServer
    from agentic_mlops.settings import load_settings

    settings = {
        "AGENTIC_MLOPS_DEV_TOKEN_SECRET": DEV_SECRET,
        "SLACK_BOT_TOKEN": slack_fakes.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack_fakes.SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "AGENTIC_MLOPS_SLACK_CHANNEL": slack_fakes.CHANNEL,
        "AGENTIC_MLOPS_SLACK_USERS": json.dumps(
            {slack_fakes.APPROVER: {"user": SLACK_USER_NAME, "projects": ["*"]}}
        ),
    }
    platform_settings = load_settings(environ={**os.environ, **settings})
    server = LocalServer(
        platform_settings, database=database, host="127.0.0.1", port=0
    ).start_in_thread()
    yield server
    server.stop_thread()
