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
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agentic_mlops.persistence.models import Connection, Event, Subscriber

if TYPE_CHECKING:
    from agentic_mlops.persistence.interfaces import ConnectionStore

logger = logging.getLogger(__name__)

# API Gateway WebSocket frames are limited to 32 KB; larger event messages go by reference.
MAX_FRAME_BYTES = 32 * 1024
_POST_WORKERS = 16


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

    def __init__(
        self, region: str | None = None, *, credentials: tuple[str, str] | None = None
    ) -> None:
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

                region = self._region or "us-east-1"
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
    """The delivery pump over the store's connections, subscriptions and cursors."""

    def __init__(self, store: ConnectionStore, poster: Poster | None = None) -> None:
        self._store = store
        self._poster = poster or ManagementApiPoster()
        self._executor = ThreadPoolExecutor(_POST_WORKERS, thread_name_prefix="ws-post")
        self._closed = False

    @property
    def poster(self) -> Poster:
        """How frames are posted (the management API client)."""
        return self._poster

    def post(self, connection: Connection, message: Mapping[str, Any]) -> bool:
        """Send one non-event message (pong, subscribed, error); False if it is gone."""
        try:
            self._poster(connection.endpoint, connection.id, json.dumps(message, default=str))
        except ConnectionGone:
            self._store.disconnect(connection.id)
            return False
        return True

    # delivery ---------------------------------------------------------------------------

    def publish(self, decision_set_id: str, events: Sequence[Event]) -> None:
        """Store listener: deliver new events of a decision set to its subscribers."""
        self.pump(decision_set_id)

    def pump(self, decision_set_id: str) -> int:
        """Deliver what each subscriber of a decision set has not received; return frames sent.

        After :meth:`close` nothing is sent: the cursors stay, and the next process's pump
        (or the subscriber's next subscribe) delivers what is missing.
        """
        if self._closed:
            return 0
        with self._store.deliveries(decision_set_id) as round_:
            subscribers = round_.subscribers
            if not subscribers:
                return 0
            events = round_.events_after(min(s.delivered_seq for s in subscribers))
            if not events:
                return 0
            frames = [(e.seq, event_frame(e)) for e in events]
            results = list(self._executor.map(lambda s: self._send_all(s, frames), subscribers))
            sent, gone = 0, []
            for subscriber, (delivered, count, is_gone) in zip(subscribers, results, strict=True):
                sent += count
                if is_gone:
                    gone.append(subscriber.connection_id)
                elif delivered > subscriber.delivered_seq:
                    round_.delivered(subscriber.connection_id, delivered)
            round_.gone(gone)
        return sent

    def _send_all(
        self, subscriber: Subscriber, frames: Sequence[tuple[int, str]]
    ) -> tuple[int, int, bool]:
        """Post a subscriber's missing frames in order: (delivered seq, sent, gone)."""
        delivered, sent = subscriber.delivered_seq, 0
        for seq, frame in frames:
            if seq <= delivered:
                continue
            try:
                self._poster(subscriber.endpoint, subscriber.connection_id, frame)
            except ConnectionGone:
                return delivered, sent, True
            except Exception:
                # Not gone, but unreachable now: keep the cursor; the next pump retries.
                logger.warning("posting to %s failed", subscriber.connection_id, exc_info=True)
                return delivered, sent, False
            delivered, sent = seq, sent + 1
        return delivered, sent, False

    def close(self) -> None:
        """Stop the posting threads."""
        self._closed = True
        self._executor.shutdown(wait=True)
