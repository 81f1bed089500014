"""Live events to WebSocket subscribers, through API Gateway's ``@connections`` API.

Delivery is a *pump*: for a decision set, lock its subscriptions, read the events after
the lowest delivered sequence number, post to every subscriber what it has not received
yet, and move each subscriber's cursor. Subscribing (the replay of missed events) and
publishing (new events) both pump, so every subscriber receives every event once, in
order, whoever pumps first.

A ``GoneException`` (the browser went away) removes the connection and sets
``stream_abandoned`` on the decision set's job; the run itself is not disturbed.
Messages over API Gateway's frame limit go by reference: the event's payload is left out
and ``payload_ref`` says where the REST API serves it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from agentic_mlops.persistence.models import Event

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

ENDPOINT_ENV = "AGENTIC_MLOPS_WS_ENDPOINT"
# API Gateway WebSocket frames are limited to 32 KB; larger event messages go by reference.
MAX_FRAME_BYTES = 32 * 1024
_POST_WORKERS = 16


@dataclass(frozen=True)
class Connection:
    """A recorded WebSocket connection."""

    id: str
    user: str
    grants: list[str]
    endpoint: str


def event_frame(event: Event) -> str:
    """The JSON text sent for an event; by reference when it would exceed a frame."""
    message = event.message()
    text = json.dumps(message, separators=(",", ":"), default=str)
    if len(text.encode()) <= MAX_FRAME_BYTES:
        return text
    reference = {
        **{k: v for k, v in message.items() if k != "payload"},
        "payload": None,
        "payload_ref": (
            f"/decision-sets/{event.decision_set_id}/events?after={event.seq - 1}&limit=1"
        ),
        "payload_bytes": len(json.dumps(message["payload"], default=str).encode()),
    }
    return json.dumps(reference, separators=(",", ":"), default=str)


class ConnectionGone(Exception):
    """The connection no longer exists at the API Gateway end."""


Poster = Callable[[str, str, str], None]
"""``post(endpoint, connection_id, data)``; raises :class:`ConnectionGone`."""


class ManagementApiPoster:
    """Posts with boto3's ``apigatewaymanagementapi`` client, one client per endpoint."""

    def __init__(self, region: str | None = None, *, credentials: tuple[str, str] | None = None):
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._region = region
        self._credentials = credentials

    def client(self, endpoint: str) -> Any:
        """The management API client for an endpoint (created once, thread-safe)."""
        with self._lock:
            if endpoint not in self._clients:
                import boto3
                from botocore.config import Config

                region = (
                    self._region
                    or os.environ.get("AWS_REGION")
                    or os.environ.get("AWS_DEFAULT_REGION")
                    or "us-east-1"
                )
                config = Config(
                    connect_timeout=2,
                    read_timeout=5,
                    retries={"max_attempts": 2, "mode": "standard"},
                    max_pool_connections=_POST_WORKERS,
                )
                keys = {}
                if self._credentials is not None:
                    keys = {
                        "aws_access_key_id": self._credentials[0],
                        "aws_secret_access_key": self._credentials[1],
                    }
                self._clients[endpoint] = boto3.session.Session().client(
                    "apigatewaymanagementapi",
                    endpoint_url=endpoint,
                    region_name=region,
                    config=config,
                    **keys,
                )
            return self._clients[endpoint]

    def __call__(self, endpoint: str, connection_id: str, data: str) -> None:
        client = self.client(endpoint)
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data.encode())
        except client.exceptions.GoneException as exc:
            raise ConnectionGone(connection_id) from exc


class Streams:
    """Connections, subscriptions and the delivery pump, on the platform database."""

    def __init__(self, pool: ConnectionPool, poster: Poster | None = None) -> None:
        self._pool = pool
        self._poster = poster or ManagementApiPoster()
        self._executor = ThreadPoolExecutor(_POST_WORKERS, thread_name_prefix="ws-post")

    @property
    def poster(self) -> Poster:
        """How frames are posted (the management API client)."""
        return self._poster

    # connections ------------------------------------------------------------------------

    def connect(self, connection_id: str, user: str, grants: Sequence[str], endpoint: str) -> None:
        """Record a new connection (a repeated ``$connect`` replaces the record)."""
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO connections (id, user_name, grants, endpoint)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " user_name = EXCLUDED.user_name, grants = EXCLUDED.grants,"
                " endpoint = EXCLUDED.endpoint",
                (connection_id, user, Jsonb(list(grants)), endpoint),
            )

    def disconnect(self, connection_id: str) -> None:
        """Forget a connection and its subscriptions."""
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM connections WHERE id = %s", (connection_id,))

    def connection(self, connection_id: str) -> Connection | None:
        """The recorded connection, or None."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT id, user_name, grants, endpoint FROM connections WHERE id = %s",
                (connection_id,),
            ).fetchone()
        if row is None:
            return None
        return Connection(row["id"], row["user_name"], list(row["grants"]), row["endpoint"])

    def subscribe(self, connection_id: str, decision_set_id: str, since: int) -> None:
        """Subscribe a connection; the next pump sends the events after ``since``."""
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO subscriptions (connection_id, decision_set_id, delivered_seq)"
                " VALUES (%s, %s, %s) ON CONFLICT (connection_id, decision_set_id)"
                " DO UPDATE SET delivered_seq = EXCLUDED.delivered_seq, subscribed_at = now()",
                (connection_id, decision_set_id, since),
            )

    def unsubscribe(self, connection_id: str, decision_set_id: str) -> None:
        """Stop sending a decision set's events to a connection."""
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM subscriptions WHERE connection_id = %s AND decision_set_id = %s",
                (connection_id, decision_set_id),
            )

    def post(self, connection: Connection, message: Mapping[str, Any]) -> bool:
        """Send one non-event message (pong, subscribed, error); False if it is gone."""
        try:
            self._poster(connection.endpoint, connection.id, json.dumps(message, default=str))
        except ConnectionGone:
            self.disconnect(connection.id)
            return False
        return True

    # delivery ---------------------------------------------------------------------------

    def publish(self, decision_set_id: str, events: Sequence[Event]) -> None:
        """Store listener: deliver new events of a decision set to its subscribers."""
        self.pump(decision_set_id)

    def pump(self, decision_set_id: str) -> int:
        """Deliver what each subscriber of a decision set has not received; return frames sent."""
        with self._pool.connection() as conn, conn.transaction():
            subscribers = conn.execute(
                "SELECT s.connection_id, s.delivered_seq, c.endpoint FROM subscriptions s"
                " JOIN connections c ON c.id = s.connection_id"
                " WHERE s.decision_set_id = %s ORDER BY s.connection_id FOR UPDATE OF s",
                (decision_set_id,),
            ).fetchall()
            if not subscribers:
                return 0
            lowest = min(s["delivered_seq"] for s in subscribers)
            rows = conn.execute(
                "SELECT * FROM events WHERE decision_set_id = %s AND seq > %s ORDER BY seq",
                (decision_set_id, lowest),
            ).fetchall()
            if not rows:
                return 0
            events = [Event.model_validate(r) for r in rows]
            frames = [(e.seq, event_frame(e)) for e in events]
            results = list(self._executor.map(lambda s: self._send_all(s, frames), subscribers))
            sent, gone = 0, []
            for subscriber, (delivered, count, is_gone) in zip(subscribers, results, strict=True):
                sent += count
                if is_gone:
                    gone.append(subscriber["connection_id"])
                elif delivered > subscriber["delivered_seq"]:
                    conn.execute(
                        "UPDATE subscriptions SET delivered_seq = %s"
                        " WHERE connection_id = %s AND decision_set_id = %s",
                        (delivered, subscriber["connection_id"], decision_set_id),
                    )
            if gone:
                conn.execute("DELETE FROM connections WHERE id = ANY(%s)", (gone,))
                conn.execute(
                    "UPDATE jobs SET stream_abandoned = true WHERE id = (SELECT id FROM jobs"
                    " WHERE decision_set_id = %s ORDER BY started_at DESC, id DESC LIMIT 1)",
                    (decision_set_id,),
                )
                logger.info(
                    "%d subscriber(s) of %s went away; stream marked abandoned",
                    len(gone),
                    decision_set_id,
                )
        return sent

    def _send_all(
        self, subscriber: Mapping[str, Any], frames: Sequence[tuple[int, str]]
    ) -> tuple[int, int, bool]:
        """Post a subscriber's missing frames in order: (delivered seq, sent, gone)."""
        delivered, sent = subscriber["delivered_seq"], 0
        for seq, frame in frames:
            if seq <= delivered:
                continue
            try:
                self._poster(subscriber["endpoint"], subscriber["connection_id"], frame)
            except ConnectionGone:
                return delivered, sent, True
            except Exception:
                # Not gone, but unreachable now: keep the cursor; the next pump retries.
                logger.warning("posting to %s failed", subscriber["connection_id"], exc_info=True)
                return delivered, sent, False
            delivered, sent = seq, sent + 1
        return delivered, sent, False

    def close(self) -> None:
        """Stop the posting threads."""
        self._executor.shutdown(wait=True)
