"""The delivery pump: order, replay from a cursor, gone and unreachable subscribers."""

from __future__ import annotations

import uuid

import pytest

from agentic_mlops.persistence import Database
from agentic_mlops.persistence.models import NewEvent
from agentic_mlops.streaming.fanout import ConnectionGone, Streams

pytestmark = pytest.mark.integration


class Browsers:
    """A poster that records frames per connection; some connections fail or are gone."""

    def __init__(self) -> None:
        self.frames: dict[str, list[int]] = {}
        self.gone: set[str] = set()
        self.failing: set[str] = set()

    def __call__(self, endpoint: str, connection_id: str, data: str) -> None:
        import json

        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        if connection_id in self.failing:
            raise OSError("connection reset")
        self.frames.setdefault(connection_id, []).append(json.loads(data).get("seq"))


def _decision_set(database: Database) -> str:
    project = database.store.get_or_create_project(f"streams-{uuid.uuid4().hex[:6]}")
    return database.store.create_decision_set(project.id, "request").id


def _append(database: Database, decision_set_id: str, n: int, start: int = 0) -> None:
    events = [
        NewEvent(type="reason-card", payload={"i": i}, dedupe_key=f"e{i}")
        for i in range(start, start + n)
    ]
    database.store.append_events(decision_set_id, events)


def test_pump_delivers_in_order_from_each_cursor_once(database: Database):
    browsers = Browsers()
    streams = Streams(database.store, browsers)
    decision_set = _decision_set(database)
    _append(database, decision_set, 5)
    for connection, since in (("c-all", 0), ("c-late", 3)):
        database.store.connect(connection, "alice", ["requester"], "http://local")
        database.store.subscribe(connection, decision_set, since)

    streams.pump(decision_set)
    _append(database, decision_set, 2, start=5)
    streams.pump(decision_set)
    streams.pump(decision_set)  # nothing new: nothing sent twice

    assert browsers.frames["c-all"] == [1, 2, 3, 4, 5, 6, 7]
    assert browsers.frames["c-late"] == [4, 5, 6, 7]
    streams.close()


def test_unreachable_subscriber_keeps_its_cursor_and_catches_up(database: Database):
    browsers = Browsers()
    streams = Streams(database.store, browsers)
    decision_set = _decision_set(database)
    database.store.connect("c-flaky", "alice", ["requester"], "http://local")
    database.store.subscribe("c-flaky", decision_set, 0)
    browsers.failing.add("c-flaky")
    _append(database, decision_set, 3)
    streams.pump(decision_set)
    assert "c-flaky" not in browsers.frames
    browsers.failing.clear()
    streams.pump(decision_set)
    assert browsers.frames["c-flaky"] == [1, 2, 3]
    streams.close()


def test_gone_subscriber_is_removed_and_the_job_marked(database: Database):
    browsers = Browsers()
    streams = Streams(database.store, browsers)
    decision_set = _decision_set(database)
    job = database.store.start_job(decision_set, "local", "start")
    for connection in ("c-here", "c-gone"):
        database.store.connect(connection, "alice", ["requester"], "http://local")
        database.store.subscribe(connection, decision_set, 0)
    browsers.gone.add("c-gone")
    _append(database, decision_set, 2)
    streams.pump(decision_set)

    assert browsers.frames["c-here"] == [1, 2]
    assert database.store.connection("c-gone") is None
    assert database.store.connection("c-here") is not None
    latest = database.store.latest_job(decision_set)
    assert latest["id"] == job and latest["stream_abandoned"] is True
    streams.close()


def test_store_listener_publishes_as_events_are_stored(database: Database):
    browsers = Browsers()
    streams = Streams(database.store, browsers)
    decision_set = _decision_set(database)
    database.store.connect("c-live", "alice", ["requester"], "http://local")
    database.store.subscribe("c-live", decision_set, 0)
    database.store.add_listener(streams.publish)
    try:
        _append(database, decision_set, 2)
    finally:
        database.store.remove_listener(streams.publish)
    _append(database, decision_set, 1, start=2)
    assert browsers.frames["c-live"] == [1, 2]
    streams.close()
