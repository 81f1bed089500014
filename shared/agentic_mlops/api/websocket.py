"""The WebSocket API: ``$connect`` / ``$default`` / ``$disconnect`` route handlers.

- ``$connect`` authenticates (the token comes in the query string: browsers cannot set
  headers on a WebSocket) and records the connection; a refusal is a 401 or 403, which
  API Gateway turns into a refused handshake.
- ``$default`` reads one JSON message:
  ``{"action": "subscribe", "decision_set_id": ID, "since": SEQ}`` replays the events
  after ``since`` then sends live events; without ``since`` a new subscription starts from
  the beginning and a repeated one keeps its cursor (no replay flood);
  ``{"action": "unsubscribe", "decision_set_id": ID}``; ``{"action": "ping"}`` gets
  ``{"type": "pong"}``. Anything else — a malformed message, a message over the
  connection's budget (:data:`MESSAGES_PER_SECOND`, bursts of :data:`MESSAGE_BURST`) —
  gets ``{"type": "error", "code", "message"}`` and the connection stays open.
- ``$disconnect`` forgets the connection.

Replies go through the ``@connections`` management API, like the live events.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentic_mlops.api.auth import authenticate
from agentic_mlops.domain.identity import Identity, parse_grants
from agentic_mlops.errors import InvalidInput, NotFound, PlatformError, Unauthenticated
from agentic_mlops.service.inputs import ID_PATTERN, MAX_MESSAGE_BYTES, MAX_SEQ, read_json

if TYPE_CHECKING:
    from agentic_mlops.composition import Platform
    from agentic_mlops.persistence.models import Connection

logger = logging.getLogger(__name__)

MESSAGES_PER_SECOND = 5.0
MESSAGE_BURST = 20.0


class Subscribe(BaseModel):
    """The subscribe and unsubscribe messages."""

    model_config = ConfigDict(extra="ignore")

    action: Literal["subscribe", "unsubscribe"]
    decision_set_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    since: int | None = Field(default=None, ge=0, le=MAX_SEQ)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway WebSocket event (never raises: errors are answers)."""
    request = event.get("requestContext") or {}
    route = request.get("routeKey")
    connection_id = request.get("connectionId")
    if not connection_id or not isinstance(connection_id, str) or len(connection_id) > 128:
        return _status(400, "no connection id")
    try:
        platform = _platform()
    except PlatformError as exc:  # not configured or the schema is behind
        logger.error("the WebSocket API cannot serve: %s", exc)
        return _status(503, exc.code)
    try:
        if route == "$connect":
            return _connect(platform, event, connection_id)
        if route == "$disconnect":
            platform.store.disconnect(connection_id)
            return _status(200, "bye")
        return _message(platform, event, connection_id)
    except PlatformError as exc:
        logger.warning("WebSocket %s refused: %s", route, exc)
        return _status(400, exc.code)
    except Exception:
        logger.exception("the WebSocket handler failed on %s", route)
        return _status(500, "internal error")


def management_endpoint(platform: Platform, request: dict[str, Any]) -> str:
    """Where the ``@connections`` API of this connection is (the settings may say)."""
    if platform.ws_endpoint:
        return platform.ws_endpoint.rstrip("/")
    return f"https://{request.get('domainName')}/{request.get('stage')}"


def _connect(platform: Platform, event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    try:
        identity = authenticate(
            event,
            mode=platform.settings.auth.mode,
            secret=platform.token_secret,
            query_token=True,
        )
    except Unauthenticated as exc:
        return _status(401, str(exc))
    grants = identity.grants()
    if not grants:
        return _status(403, f"{identity.user} has no role on any project")
    endpoint = management_endpoint(platform, event.get("requestContext") or {})
    platform.store.connect(connection_id, identity.user, grants, endpoint)
    return _status(200, "connected")


def _message(platform: Platform, event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    store = platform.store
    connection = store.connection(connection_id)
    if connection is None:
        return _status(410, "unknown connection")
    reply = _replier(platform, connection)
    if not store.take_message_token(connection_id, rate=MESSAGES_PER_SECOND, burst=MESSAGE_BURST):
        return reply(
            _error(
                "rate_limited",
                f"at most {MESSAGES_PER_SECOND:g} messages a second; slow down",
            )
        )
    try:
        message = read_json(
            event.get("body") or "", max_bytes=MAX_MESSAGE_BYTES, what="the message"
        )
    except InvalidInput as exc:
        return reply(_error(exc.code, str(exc)))
    if not isinstance(message, dict):
        return reply(_error("invalid_message", "send one JSON object per message"))
    action = message.get("action")
    if action == "ping":
        return reply({"type": "pong"})
    if action in {"subscribe", "unsubscribe"}:
        return _subscription(platform, connection, message)
    return reply(_error("unknown_action", "actions: subscribe, unsubscribe, ping"))


def _subscription(
    platform: Platform, connection: Connection, message: dict[str, Any]
) -> dict[str, Any]:
    reply = _replier(platform, connection)
    try:
        request = Subscribe.model_validate(message)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        return reply(_error("invalid_message", problems))
    identity = Identity(user=connection.user, roles=parse_grants(connection.grants))
    try:
        read = platform.service.read(identity, request.decision_set_id)
    except NotFound as exc:
        return reply(_error(exc.code, str(exc)))
    store, streams = platform.store, platform.streams
    decision_set = read.decision_set
    if request.action == "unsubscribe":
        store.unsubscribe(connection.id, decision_set.id)
        return reply({"type": "unsubscribed", "decision_set_id": decision_set.id})
    cursor = store.subscribe(connection.id, decision_set.id, request.since)
    acknowledged = reply(
        {
            "type": "subscribed",
            "decision_set_id": decision_set.id,
            "since": cursor,
            "last_seq": decision_set.last_event_seq,
            "status": decision_set.status,
        }
    )
    if acknowledged["statusCode"] == 200 and streams is not None:
        streams.pump(decision_set.id)
    return _status(200, "subscribed")


def _replier(platform: Platform, connection: Connection) -> Any:
    def reply(message: dict[str, Any]) -> dict[str, Any]:
        streams = platform.streams
        if streams is None or not streams.post(connection, message):
            return _status(410, "gone")
        return _status(200, message.get("type", "ok"))

    return reply


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def _status(code: int, message: str) -> dict[str, Any]:
    return {"statusCode": code, "body": message}


def _platform() -> Platform:
    from agentic_mlops.composition.container import platform

    return platform("websocket")


__all__ = ["PlatformError", "handle", "management_endpoint"]
