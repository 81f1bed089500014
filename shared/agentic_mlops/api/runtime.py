"""The API functions' container state: one service and one stream hub per process.

In Lambda they are created on first use from the environment (``DATABASE_URL``, the
engine variables, ``AGENTIC_MLOPS_WS_ENDPOINT``...) and reused while the container is
warm. The local server builds them itself and installs them with :func:`configure`.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from agentic_mlops.errors import InvalidInput, PlatformError

if TYPE_CHECKING:
    from agentic_mlops.api.service import PlatformService
    from agentic_mlops.engines.local import LocalEngine
    from agentic_mlops.persistence import Database, PostgresStore
    from agentic_mlops.persistence.models import Wait
    from agentic_mlops.streaming.fanout import Streams

logger = logging.getLogger(__name__)

_container: dict[str, Any] = {}


def configure(service: PlatformService, streams: Streams) -> None:
    """Install the service and stream hub this process uses (the local server)."""
    _container["service"] = service
    _container["streams"] = streams


def reset() -> None:
    """Forget the installed service and hub (tests, server shutdown)."""
    _container.clear()


def service() -> PlatformService:
    """This container's service (created from the environment on first use in Lambda)."""
    if "service" not in _container:
        from agentic_mlops.api.service import PlatformService
        from agentic_mlops.engines import create_engine
        from agentic_mlops.providers import provider_from_env

        database = _database()
        provider = provider_from_env()
        engine = create_engine(database, provider)
        local = getattr(engine, "_runtime", engine)
        wire(local, database, streams())
        _container["service"] = PlatformService(engine)
    return _container["service"]


def streams() -> Streams:
    """This container's stream hub (the WebSocket function needs only this and a store)."""
    if "streams" not in _container:
        from agentic_mlops.streaming.fanout import Streams

        _container["streams"] = Streams(_database().pool)
    return _container["streams"]


def store() -> PostgresStore:
    """The platform store (without building an engine)."""
    if "service" in _container:
        return _container["service"].store
    return _database().store


def _database() -> Database:
    if "database" not in _container:
        from agentic_mlops.persistence import open_database

        url = os.environ.get("DATABASE_URL")
        if not url:
            raise InvalidInput("DATABASE_URL is not set for this function")
        _container["database"] = open_database(url, max_size=4)
    return _container["database"]


def wire(engine: LocalEngine, database: Database, streams: Streams | None = None) -> Streams:
    """Connect an engine to the live stream and, when configured, to Slack.

    New events are pumped to WebSocket subscribers as they are stored; an opened
    approval is posted to Slack once.
    """
    from agentic_mlops.streaming.fanout import Streams

    hub = streams or Streams(database.pool)
    database.store.add_listener(hub.publish)
    notifier = slack_notifier(database)
    if notifier is not None:
        engine.wait_listeners.append(notifier)
    return hub


def slack_notifier(database: Database) -> Any:
    """A wait listener posting approvals to Slack, or None when Slack is not configured."""
    from agentic_mlops.slack.config import SlackConfig

    config = SlackConfig.from_env()
    if config is None or not config.can_post:
        return None
    store = database.store

    def notify(wait: Wait) -> None:
        if wait.kind != "approval" or not store.claim_notification(wait.id, "slack"):
            return
        from agentic_mlops.slack.notifier import post_approval_request

        project = store.get_project(store.get_decision_set(wait.decision_set_id).project_id)
        try:
            ts = post_approval_request(config, wait, project=project.name)
        except PlatformError as exc:
            # The approval can still be decided in the web app; the next opening of this
            # wait (a resume) tries Slack again.
            store.release_notification(wait.id, "slack")
            logger.warning("approval %s not posted to Slack: %s", wait.id, exc)
            return
        store.record_notification(wait.id, "slack", {"channel": config.channel, "ts": ts})
        logger.info("approval %s posted to Slack", wait.id)

    return notify
