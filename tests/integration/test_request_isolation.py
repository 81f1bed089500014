"""One request never acts with another's identity or context, however many run at once.

Two users on two projects call the local server from many threads, interleaved: every REST
answer, WebSocket reply and Slack outcome must belong to its caller and to the decision set
it named (thousands of requests, zero crossings).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import slack_fakes
from api_client import DEV_SECRET, WORKLOAD, Rest, Stream, token

from agentic_mlops.persistence import Database

pytestmark = pytest.mark.integration

THREADS = 16
REST_ROUNDS = 40  # per thread; 4 requests a round: 2,560 requests
WS_MESSAGES = 120  # per user and connection
SLACK_CLICKS = 60  # per Slack user
ALICE_SLACK, BOB_SLACK = "U0ALICE001", "U0BOB00002"


@pytest.fixture(scope="module")
def world(database: Database, fake_slack: slack_fakes.FakeSlack) -> Any:
    """A server of its own, whose Slack users approve on one project each."""
    from agentic_mlops.local.server import LocalServer
    from agentic_mlops.settings import load_settings

    projects = {
        who: database.store.create_project(f"iso-{who}-{uuid.uuid4().hex[:6]}")[0].id
        for who in ("alice", "bob")
    }
    users = {
        ALICE_SLACK: {"user": "alice", "projects": [projects["alice"]]},
        BOB_SLACK: {"user": "bob", "projects": [projects["bob"]]},
    }
    environ = {
        **os.environ,
        "AGENTIC_MLOPS_DEV_TOKEN_SECRET": DEV_SECRET,
        "SLACK_SIGNING_SECRET": slack_fakes.SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "AGENTIC_MLOPS_SLACK_USERS": json.dumps(users),
    }
    server = LocalServer(
        load_settings(environ=environ), database=database, port=0, recover=False
    ).start_in_thread()
    admin = Rest(server.url, token("setup", "requester", "approver"))
    sets = {}
    for who, project in projects.items():
        status, body = admin.post(f"/projects/{project}/decision-sets", {"request": WORKLOAD})
        assert status == 202, body
        sets[who] = body["id"]
    for decision_set in sets.values():
        admin.wait_status(decision_set, {"awaiting_approval"})
    yield {"server": server, "projects": projects, "sets": sets}
    server.stop_thread()


def test_rest_answers_always_belong_to_the_caller(world: Any) -> None:
    server, projects, sets = world["server"], world["projects"], world["sets"]
    clients = {
        who: Rest(server.url, token(who, "requester", "approver", project=projects[who]))
        for who in ("alice", "bob")
    }
    crossings: list[str] = []
    answered = [0]
    lock = threading.Lock()

    def check(condition: bool, what: str) -> None:
        with lock:
            answered[0] += 1
            if not condition:
                crossings.append(what)

    def worker(index: int) -> None:
        for round_no in range(REST_ROUNDS):
            who = ("alice", "bob")[(index + round_no) % 2]
            other = "bob" if who == "alice" else "alice"
            rest = clients[who]
            status, me = rest.get("/me")
            check(status == 200 and me["user"] == who, f"/me as {who}: {me}")
            status, view = rest.get(f"/decision-sets/{sets[who]}")
            check(
                status == 200 and view["id"] == sets[who] and view["project_id"] == projects[who],
                f"own decision set as {who}: {status}",
            )
            status, page = rest.get(f"/decision-sets/{sets[who]}/events?after=0&limit=5")
            check(
                status == 200 and all(e["decision_set_id"] == sets[who] for e in page["events"]),
                f"events as {who}",
            )
            status, _ = rest.get(f"/decision-sets/{sets[other]}")
            check(status == 404, f"{other}'s decision set as {who}: {status}")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    assert answered[0] == THREADS * REST_ROUNDS * 4
    assert crossings == []


def test_websocket_replies_always_belong_to_the_connection(world: Any) -> None:
    server, projects, sets = world["server"], world["projects"], world["sets"]
    streams = {
        who: Stream(server.ws_url, token(who, "requester", project=projects[who]))
        for who in ("alice", "bob")
    }
    results: dict[str, list[dict[str, Any]]] = {}

    def converse(who: str) -> None:
        other = "bob" if who == "alice" else "alice"
        stream, replies = streams[who], []
        for n in range(WS_MESSAGES):
            target = sets[who] if n % 2 == 0 else sets[other]
            stream.send({"action": "subscribe", "decision_set_id": target, "since": 10**6})
            replies.append(stream.until(lambda m: m["type"] in {"subscribed", "error"}))
            time.sleep(0.21)  # under the per-connection budget (5 a second)
        results[who] = replies

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(converse, ("alice", "bob")))
    for who, replies in results.items():
        other = "bob" if who == "alice" else "alice"
        own, foreign = replies[0::2], replies[1::2]
        assert all(r["type"] == "subscribed" and r["decision_set_id"] == sets[who] for r in own)
        assert all(r["type"] == "error" and r["code"] == "not_found" for r in foreign)
        assert all(sets[other] not in json.dumps(r) or r["type"] == "error" for r in replies)
    for stream in streams.values():
        events = stream.events()
        assert all(e["decision_set_id"] in {sets["alice"], sets["bob"]} for e in events)
        stream.close()


def test_slack_clicks_always_act_as_the_clicker(
    world: Any, fake_slack: slack_fakes.FakeSlack, database: Database
) -> None:
    server, sets = world["server"], world["sets"]
    approvals = {who: database.store.latest_wait(sets[who], "approval").id for who in sets}
    rest = Rest(server.url, None)

    def click(slack_user: str, approval_id: str) -> str:
        name = uuid.uuid4().hex
        body = slack_fakes.form_body(
            slack_fakes.click_payload(
                response_url=fake_slack.response_url(name),
                user_id=slack_user,
                action_id="approval_reject",
                value=approval_id,
            )
        )
        headers = slack_fakes.signed_headers(body, timestamp=time.time())
        status, _ = rest.call("POST", "/slack/interactions", raw=body.encode(), headers=headers)
        assert status == 200
        return name

    jobs = [
        (slack_user, approvals[target])
        for _ in range(SLACK_CLICKS)
        for slack_user, target in (
            (ALICE_SLACK, "alice"),
            (ALICE_SLACK, "bob"),
            (BOB_SLACK, "bob"),
            (BOB_SLACK, "alice"),
        )
    ]
    with ThreadPoolExecutor(THREADS) as pool:
        names = list(pool.map(lambda job: click(*job), jobs))

    # Then each decision was taken by its own project's approver, once
    for who in ("alice", "bob"):
        wait = database.store.get_wait(approvals[who])
        assert wait.status == "decided" and wait.decided_by == who
    # and every click on the other project's approval was refused naming the clicker
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(fake_slack.to("/actions/")) < len(jobs):
        time.sleep(0.05)
    for (slack_user, _approval_id), name in zip(jobs, names, strict=True):
        (update,) = [json.loads(r.raw) for r in fake_slack.to(f"/actions/{name}")]
        clicker = "alice" if slack_user == ALICE_SLACK else "bob"
        other = "bob" if clicker == "alice" else "alice"
        # decided or replayed by the clicker, or refused naming the clicker: never the other
        shown = update["text"] + json.dumps(update.get("blocks") or [])
        assert f"*{clicker}*" in shown, shown
        assert f"*{other}*" not in shown, shown


def test_servers_in_one_process_each_answer_from_their_own_platform(
    api_server: Any, database: Database
) -> None:
    """A second server (another secret) started, stopped, and a handler platform installed
    for the whole process: each server still authenticates with its own settings."""
    from agentic_mlops.api.auth import issue_dev_token
    from agentic_mlops.composition import container
    from agentic_mlops.local.server import LocalServer
    from agentic_mlops.settings import load_settings

    other_secret = f"other-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    other = LocalServer(
        load_settings(environ={**os.environ, "AGENTIC_MLOPS_DEV_TOKEN_SECRET": other_secret}),
        database=database,
        port=0,
        recover=False,
    ).start_in_thread()
    ours, theirs = (
        token("ops", "requester"),
        issue_dev_token("ops", ["requester"], secret=other_secret),
    )
    try:
        for url, accepted, refused in ((api_server.url, ours, theirs), (other.url, theirs, ours)):
            assert Rest(url, accepted).get("/me")[0] == 200
            assert Rest(url, refused).get("/me")[0] == 401
    finally:
        other.stop_thread()
    container.reset()  # what an in-process test of the Lambda functions does when it ends
    assert Rest(api_server.url, ours).get("/me")[0] == 200
    assert Rest(api_server.url, theirs).get("/me")[0] == 401
