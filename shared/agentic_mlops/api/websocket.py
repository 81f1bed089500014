"""The WebSocket API: ``$connect`` / ``$default`` / ``$disconnect`` route handlers.

- ``$connect`` authenticates (the token comes in the query string: browsers cannot set
  headers on a WebSocket) and records the connection; a refusal is a 401 or 403, which
  API Gateway turns into a refused handshake.
- ``$default`` reads one JSON message:
  ``{"action": "subscribe", "decision_set_id": ID, "since": SEQ}`` replays the events
  after ``since`` (all of them without it), then the connection receives live events;
  ``{"action": "unsubscribe", "decision_set_id": ID}``; ``{"action": "ping"}`` gets
  ``{"type": "pong"}``. Anything else gets ``{"type": "error", "code", "message"}``.
- ``$disconnect`` forgets the connection.

Replies go through the ``@connections`` management API, like the live events.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentic_mlops.api.auth import Forbidden, Identity, Unauthenticated, authenticate, parse_grants
from agentic_mlops.errors import NotFound, PlatformError
from agentic_mlops.streaming.fanout import ENDPOINT_ENV, Connection

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024


class Subscribe(BaseModel):
    """The subscribe message."""

    model_config = ConfigDict(extra="ignore")

    action: Literal["subscribe", "unsubscribe"]
    decision_set_id: str = Field(min_length=1, max_length=64)
    since: int = Field(default=0, ge=0)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway WebSocket event."""
    request = event.get("requestContext") or {}
    route = request.get("routeKey")
    connection_id = request.get("connectionId")
    if not connection_id:
        return _status(400, "no connection id")
    if route == "$connect":
        return _connect(event, connection_id)
    if route == "$disconnect":
        _streams().disconnect(connection_id)
        return _status(200, "bye")
    return _message(event, connection_id)


def management_endpoint(request: dict[str, Any]) -> str:
    """Where the ``@connections`` API of this connection is (override: the environment)."""
    configured = os.environ.get(ENDPOINT_ENV)
    if configured:
        return configured.rstrip("/")
    return f"https://{request.get('domainName')}/{request.get('stage')}"


def _connect(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    try:
        identity = authenticate(event, query_token=True)
    except Unauthenticated as exc:
        return _status(401, str(exc))
    grants = identity.grants()
    if not grants:
        return _status(403, f"{identity.user} has no role on any project")
    endpoint = management_endpoint(event.get("requestContext") or {})
    _streams().connect(connection_id, identity.user, grants, endpoint)
    return _status(200, "connected")


def _message(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    streams = _streams()
    connection = streams.connection(connection_id)
    if connection is None:
        return _status(410, "unknown connection")
    body = event.get("body") or ""
    if len(body.encode()) > MAX_MESSAGE_BYTES:
        return _reply(connection, _error("message_too_large", "messages are limited to 32 KB"))
    try:
        message = json.loads(body)
    except ValueError:
        return _reply(connection, _error("invalid_json", "send one JSON object per message"))
    if not isinstance(message, dict):
        return _reply(connection, _error("invalid_message", "send one JSON object per message"))
    action = message.get("action")
    if action == "ping":
        return _reply(connection, {"type": "pong"})
    if action in {"subscribe", "unsubscribe"}:
        return _subscription(connection, message)
    return _reply(
        connection,
        _error("unknown_action", "actions: subscribe, unsubscribe, ping"),
    )


def _subscription(connection: Connection, message: dict[str, Any]) -> dict[str, Any]:
    try:
        request = Subscribe.model_validate(message)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _reply(connection, _error("invalid_message", problems))
    streams = _streams()
    identity = Identity(user=connection.user, roles=parse_grants(connection.grants))
    try:
        decision_set = _service_store().get_decision_set(request.decision_set_id)
        identity.require_read(decision_set.project_id)
    except (NotFound, Forbidden) as exc:
        return _reply(connection, _error(exc.code, str(exc)))
    if request.action == "unsubscribe":
        streams.unsubscribe(connection.id, decision_set.id)
        return _reply(connection, {"type": "unsubscribed", "decision_set_id": decision_set.id})
    streams.subscribe(connection.id, decision_set.id, request.since)
    acknowledged = streams.post(
        connection,
        {
            "type": "subscribed",
            "decision_set_id": decision_set.id,
            "since": request.since,
            "last_seq": decision_set.last_event_seq,
            "status": decision_set.status,
        },
    )
    if acknowledged:
        streams.pump(decision_set.id)
    return _status(200, "subscribed")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def _reply(connection: Connection, message: dict[str, Any]) -> dict[str, Any]:
    _streams().post(connection, message)
    return _status(200, message.get("type", "ok"))


def _status(code: int, message: str) -> dict[str, Any]:
    return {"statusCode": code, "body": message}


def _streams() -> Any:
    from agentic_mlops.api.runtime import streams

    return streams()


def _service_store() -> Any:
    from agentic_mlops.api.runtime import store

    return store()


__all__ = ["PlatformError", "handle", "management_endpoint"]
