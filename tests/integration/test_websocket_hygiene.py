"""WebSocket hygiene: re-subscribing never floods, each connection has a message budget,
and a bad message gets an answer while the connection stays open."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_client import WORKLOAD, Rest, Stream, token

pytestmark = pytest.mark.integration

ADMIN = ("requester", "approver")


@pytest.fixture
def paused(api_server: Any) -> str:
    admin = Rest(api_server.url, token("alice", *ADMIN))
    status, project = admin.post("/projects", {"name": f"ws-{uuid.uuid4().hex[:8]}"})
    assert status == 201
    status, body = admin.post(f"/projects/{project['id']}/decision-sets", {"request": WORKLOAD})
    assert status == 202
    admin.wait_status(body["id"], {"awaiting_approval"})
    return body["id"]


def test_subscribing_again_keeps_the_cursor_and_replays_nothing(
    api_server: Any, paused: str
) -> None:
    # Given a subscriber that received the whole timeline
    admin = Rest(api_server.url, token("alice", *ADMIN))
    last = admin.get(f"/decision-sets/{paused}/events?limit=500")[1]["events"][-1]["seq"]
    stream = Stream(api_server.ws_url, token("alice", *ADMIN))
    stream.subscribe(paused)
    stream.until(lambda m: m.get("seq") == last)
    received = len(stream.events())

    # When it subscribes again (without since), many times
    for _ in range(10):
        again = stream.subscribe(paused)
        assert again["type"] == "subscribed" and again["since"] >= last
    stream.send({"action": "ping"})
    stream.until(lambda m: m["type"] == "pong")

    # Then nothing was replayed; an explicit since replays from there, once
    assert len(stream.events()) == received
    replay = stream.subscribe(paused, since=last - 2)
    assert replay["since"] == last - 2
    stream.until(lambda m: m.get("seq") == last)
    assert [e["seq"] for e in stream.events()[received:]] == [last - 1, last]
    stream.close()


def test_a_connection_over_its_budget_is_told_to_slow_down_and_stays_open(
    api_server: Any,
) -> None:
    from agentic_mlops.api.websocket import MESSAGE_BURST

    stream = Stream(api_server.ws_url, token("alice", *ADMIN))
    sent = int(MESSAGE_BURST) + 15
    for _ in range(sent):
        stream.send({"action": "ping"})
    replies = [stream.until(lambda m: True) for _ in range(sent)]
    kinds = [r.get("type") if r.get("type") != "error" else r["code"] for r in replies]
    assert kinds.count("pong") >= MESSAGE_BURST - 1
    assert "rate_limited" in kinds
    assert set(kinds) <= {"pong", "rate_limited"}
    # the budget refills: after a pause the connection is served again
    import time

    time.sleep(1.0)
    stream.send({"action": "ping"})
    assert stream.until(lambda m: True) == {"type": "pong"}
    stream.close()
