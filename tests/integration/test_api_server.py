"""The REST and WebSocket APIs through the local server, over real sockets."""

from __future__ import annotations

import json
import time
import uuid
from itertools import pairwise
from typing import Any

import pytest
from api_client import WORKLOAD, Rest, Stream, token
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.integration

ADMIN = ("requester", "approver")


@pytest.fixture
def admin(api_server: Any) -> Rest:
    return Rest(api_server.url, token("alice", *ADMIN))


@pytest.fixture
def project(admin: Rest) -> str:
    status, body = admin.post("/projects", {"name": f"api-{uuid.uuid4().hex[:8]}"})
    assert status == 201, body
    return body["id"]


def start(rest: Rest, project_id: str, request: str = WORKLOAD) -> str:
    status, body = rest.post(f"/projects/{project_id}/decision-sets", {"request": request})
    assert status == 202, body
    assert body["status"] in {"running", "awaiting_approval", "awaiting_input"}
    return body["id"]


def timeline(rest: Rest, decision_set_id: str) -> list[dict[str, Any]]:
    events, after = [], 0
    while True:
        status, page = rest.get(f"/decision-sets/{decision_set_id}/events?after={after}&limit=7")
        assert status == 200, page
        events += page["events"]
        if page["next_after"] is None:
            return events
        after = page["next_after"]


def test_whole_flow_streams_every_event_in_order(api_server: Any, admin: Rest, project: str):
    # Given a subscriber connected before the decision set starts
    stream = Stream(api_server.ws_url, token("viewer", "requester", project=project))
    decision_set = start(admin, project)
    ack = stream.subscribe(decision_set)
    assert ack["type"] == "subscribed" and ack["decision_set_id"] == decision_set

    # When the plan is approved as soon as approval is requested
    requested = stream.until(lambda m: m["type"] == "approval-requested")
    assert requested["payload"]["plan"]
    status, approval = admin.post(
        f"/decision-sets/{decision_set}/approval",
        {"decision": "approve", "comment": "use spot instances for training"},
    )
    assert status == 200, approval
    assert approval["replayed"] is False and approval["approver"] == "alice"
    done = stream.until(lambda m: m["type"] == "run-complete")
    stream.close()

    # Then the stream carried the whole timeline, in order, each event once
    assert done["payload"]["outcome"] == "approved"
    stored = timeline(admin, decision_set)
    received = stream.events()
    assert [(e["seq"], e["type"]) for e in received] == [(e["seq"], e["type"]) for e in stored]
    seqs = [e["seq"] for e in received]
    assert seqs[0] == 1 and all(a < b for a, b in pairwise(seqs))
    assert {"reason-card", "cost-update", "policy-update", "approval-requested"} <= {
        e["type"] for e in received
    }
    for message in received:
        assert message["decision_set_id"] == decision_set and "payload" in message

    # And the decision set reads approved, with its bundle downloadable
    status, view = admin.get(f"/decision-sets/{decision_set}")
    assert status == 200 and view["status"] == "approved"
    assert view["plan"]["region"] == "eu-west-1" and view["cost"]["monthly_total_usd"] > 0
    assert view["pending"] is None and view["bundle"]["sha256"]
    status, bundle = admin.get(f"/decision-sets/{decision_set}/bundle")
    assert status == 200 and bundle["sha256"] == view["bundle"]["sha256"]
    import hashlib
    import urllib.request

    with urllib.request.urlopen(bundle["url"], timeout=30) as answer:
        assert hashlib.sha256(answer.read()).hexdigest() == bundle["sha256"]
    forged = bundle["url"].replace("signature=", "signature=0")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    assert refused.value.code == 403


def test_question_answered_over_rest(api_server: Any, admin: Rest, project: str):
    stream = Stream(api_server.ws_url, token("alice", *ADMIN))
    decision_set = start(admin, project, "Churn model for our customers, 40 GB of data")
    stream.subscribe(decision_set)
    question = stream.until(lambda m: m["type"] == "question")
    fields = [q["field"] for q in question["payload"]["questions"]]
    view = admin.wait_status(decision_set, {"awaiting_input"})
    assert view["pending"]["kind"] == "question"

    answers = {"region": "eu-west-1", "budget": "$2,000/month", "serving_mode": "batch"}
    status, body = admin.post(
        f"/decision-sets/{decision_set}/answers",
        {"answers": {f: answers.get(f, "none") for f in fields if f in answers}},
    )
    assert status == 202, body
    assert body["status"] == "running"
    stream.until(lambda m: m["type"] in {"approval-requested", "question"})
    stream.close()
    # a field the questions do not know does not match the schema
    status, wrong = admin.post(f"/decision-sets/{decision_set}/answers", {"answers": {"x": "1"}})
    assert status == 422 and wrong["error"]["code"] == "invalid_request", wrong


def test_reconnect_with_since_receives_exactly_the_missed_events(
    api_server: Any, admin: Rest, project: str
):
    decision_set = start(admin, project)
    first = Stream(api_server.ws_url, token("alice", *ADMIN))
    first.subscribe(decision_set)
    first.until(lambda m: m.get("seq") == 4)
    first.close()

    admin.wait_status(decision_set, {"awaiting_approval"})
    status, _ = admin.post(f"/decision-sets/{decision_set}/approval", {"decision": "reject"})
    assert status == 200
    admin.wait_status(decision_set, {"rejected"})

    second = Stream(api_server.ws_url, token("alice", *ADMIN))
    ack = second.subscribe(decision_set, since=4)
    assert ack["since"] == 4
    done = second.until(lambda m: m["type"] == "run-complete")
    assert done["payload"]["outcome"] == "rejected"
    stored = timeline(admin, decision_set)
    assert [e["seq"] for e in second.events()] == [e["seq"] for e in stored if e["seq"] > 4]
    second.close()


def test_closed_client_marks_the_stream_abandoned_and_the_run_completes(
    api_server: Any, admin: Rest, project: str
):
    # Given a subscriber that goes away after the approval is requested
    decision_set = start(admin, project)
    stream = Stream(api_server.ws_url, token("alice", *ADMIN))
    stream.subscribe(decision_set)
    stream.until(lambda m: m["type"] == "approval-requested")
    admin.wait_status(decision_set, {"awaiting_approval"})
    stream.connection.close()
    # its $disconnect is not always processed first: drop it from the server only
    # (a browser vanishing without a close frame looks like this to API Gateway)
    time.sleep(0.2)
    store = api_server.platform.store
    store.connect("gone-client", "alice", ["requester", "approver"], api_server.url)
    store.subscribe("gone-client", decision_set, 0)

    # When the run continues to its end
    status, _ = admin.post(f"/decision-sets/{decision_set}/approval", {"decision": "approve"})
    assert status == 200
    view = admin.wait_status(decision_set, {"approved", "failed"})

    # Then the run completed, the stream is marked abandoned, the connection forgotten
    assert view["status"] == "approved"
    assert view["stream_abandoned"] is True
    assert store.connection("gone-client") is None


def test_roles_are_enforced_per_project(api_server: Any, admin: Rest, project: str):
    decision_set = start(admin, project)
    admin.wait_status(decision_set, {"awaiting_approval"})
    path = f"/decision-sets/{decision_set}/approval"

    requester = Rest(api_server.url, token("rita", "requester", project=project))
    status, body = requester.post(path, {"decision": "approve"})
    assert status == 403 and body["error"]["code"] == "forbidden"

    # another project's approver cannot tell it exists: the same 404 as for an unknown id
    elsewhere = Rest(api_server.url, token("olga", "approver", project="prj-other"))
    status, body = elsewhere.post(path, {"decision": "approve"})
    assert status == 404 and body["error"]["code"] == "not_found"
    hidden = elsewhere.get(f"/decision-sets/{decision_set}")
    unknown = elsewhere.get("/decision-sets/ds-000000000000")
    assert hidden[0] == unknown[0] == 404
    assert hidden[1]["error"]["message"].replace(decision_set, "ID") == unknown[1]["error"][
        "message"
    ].replace("ds-000000000000", "ID")

    approver = Rest(api_server.url, token("paul", "approver", project=project))
    status, body = approver.post(f"/projects/{project}/decision-sets", {"request": WORKLOAD})
    assert status == 403
    status, body = approver.post(path, {"decision": "approve"})
    assert status == 200 and body["approver"] == "paul"

    anonymous = Rest(api_server.url, None)
    status, body = anonymous.get(f"/decision-sets/{decision_set}")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    forged = Rest(api_server.url, token("alice", *ADMIN)[:-3] + "abc")
    assert forged.get(f"/decision-sets/{decision_set}")[0] == 401


def test_duplicate_and_conflicting_approvals(api_server: Any, admin: Rest, project: str):
    decision_set = start(admin, project)
    admin.wait_status(decision_set, {"awaiting_approval"})
    path = f"/decision-sets/{decision_set}/approval"

    first = admin.post(path, {"decision": "reject", "comment": "too expensive"})
    again = admin.post(path, {"decision": "reject"})
    other = admin.post(path, {"decision": "approve"})

    assert first[0] == 200 and first[1]["replayed"] is False
    assert again[0] == 200 and again[1]["replayed"] is True
    assert again[1]["comment"] == "too expensive"
    assert again[1]["approval_id"] == first[1]["approval_id"]
    assert other[0] == 409 and other[1]["error"]["code"] == "already_decided"
    assert "rejected" in other[1]["error"]["message"]
    view = admin.wait_status(decision_set, {"rejected"})
    assert view["approval"]["decision"] == "reject"
    events = timeline(admin, decision_set)
    assert sum(e["type"] == "approval-decided" for e in events) <= 1
    assert sum(e["type"] == "run-complete" for e in events) == 1


def test_revision_has_a_change_summary(api_server: Any, admin: Rest, project: str):
    decision_set = start(admin, project)
    admin.wait_status(decision_set, {"awaiting_approval"})
    admin.post(f"/decision-sets/{decision_set}/approval", {"decision": "reject"})
    admin.wait_status(decision_set, {"rejected"})

    status, child = admin.post(
        f"/decision-sets/{decision_set}/revisions", {"change": "move to eu-central-1"}
    )
    assert status == 202, child
    assert child["parent_id"] == decision_set
    view = admin.wait_status(child["id"], {"awaiting_approval"})
    summary = view["change_summary"]
    assert "region" in summary["changed_constraints"]
    assert any(f["path"] == "constraints.region" for f in summary["fields"])
    # a blank change does not match the schema (it must hold a non-blank character)
    status, body = admin.post(f"/decision-sets/{decision_set}/revisions", {"change": "   "})
    assert status == 422 and body["error"]["code"] == "invalid_request", body


def test_client_mistakes_are_4xx_with_the_error_shape(api_server: Any, admin: Rest, project: str):
    cases = [
        admin.post("/projects", {"nam": "x"}),
        admin.call("POST", "/projects", raw=b"{not json"),
        admin.post(f"/projects/{project}/decision-sets", {"request": ""}),
        admin.post(f"/projects/{project}/decision-sets", {"request": "x" * 20_001}),
        admin.get("/decision-sets/ds-unknown"),
        admin.get("/decision-sets/ds-unknown/events?limit=0"),
        admin.get("/decision-sets/ds-unknown/events?after=-1"),
        admin.post("/decision-sets/ds-unknown/approval", {"decision": "maybe"}),
        admin.get("/no/such/route"),
        admin.post("/projects/prj-unknown/decision-sets", {"request": WORKLOAD}),
    ]
    for status, body in cases:
        assert 400 <= status < 500, (status, body)
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    # an unknown field, an empty and an oversized request do not match the schema; a body
    # that is not JSON is refused before any route runs
    assert [c[0] for c in cases][:4] == [422, 400, 422, 422]
    assert cases[1][1]["error"]["code"] == "invalid_json"
    assert cases[4][0] == 404 and cases[8][0] == 404 and cases[9][0] == 404


def test_openapi_document_lists_the_routes(api_server: Any):
    status, document = Rest(api_server.url, None).get("/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/projects",
        "/projects/{project_id}/decision-sets",
        "/decision-sets/{decision_set_id}",
        "/decision-sets/{decision_set_id}/events",
        "/decision-sets/{decision_set_id}/answers",
        "/decision-sets/{decision_set_id}/approval",
        "/decision-sets/{decision_set_id}/revisions",
        "/decision-sets/{decision_set_id}/bundle",
        "/decision-sets/{decision_set_id}/changes",
        "/decision-sets/{decision_set_id}/file",
        "/decision-sets/{decision_set_id}/files",
        "/approvals",
        "/me",
        "/projects/{project_id}",
        "/slack/interactions",
    }
    assert "bearerAuth" in document["components"]["securitySchemes"]


def test_websocket_connect_needs_a_valid_token(api_server: Any):
    for query in ("", "?token=forged"):
        with pytest.raises(InvalidStatus) as refused:
            from websockets.sync.client import connect

            connect(api_server.ws_url + query, open_timeout=10)
        assert refused.value.response.status_code == 401


def test_websocket_messages(api_server: Any, admin: Rest, project: str):
    stream = Stream(api_server.ws_url, token("olga", "requester", project="prj-other"))
    stream.send({"action": "ping"})
    assert stream.until(lambda m: True) == {"type": "pong"}
    stream.connection.send("not json")
    assert stream.until(lambda m: True)["code"] == "invalid_json"
    stream.send({"action": "dance"})
    assert stream.until(lambda m: True)["code"] == "unknown_action"
    stream.send({"action": "subscribe", "decision_set_id": "ds-x", "since": -1})
    assert stream.until(lambda m: True)["code"] == "invalid_message"
    decision_set = start(admin, project)
    error = stream.subscribe(decision_set)
    assert error["type"] == "error" and error["code"] == "not_found"
    stream.close()


def test_management_api_answers_gone_for_unknown_connections(api_server: Any):
    from agentic_mlops.streaming.fanout import ConnectionGone, ManagementApiPoster

    keys = api_server.credentials
    poster = ManagementApiPoster(keys.region, credentials=(keys.access_key, keys.secret_key))
    with pytest.raises(ConnectionGone):
        poster(api_server.url, "no-such-connection=", json.dumps({"type": "x"}))


def test_management_api_refuses_requests_not_signed_with_the_servers_keys(api_server: Any):
    import urllib.request

    from botocore.exceptions import ClientError

    from agentic_mlops.streaming.fanout import ManagementApiPoster

    # Given a live connection whose id is known
    stream = Stream(api_server.ws_url, token("alice", *ADMIN))
    stream.send({"action": "ping"})
    stream.until(lambda m: m["type"] == "pong")
    (connection_id,) = api_server._sockets
    keys = api_server.credentials

    # When someone posts without a signature, or signs with other keys
    for method in ("GET", "POST", "DELETE"):
        request = urllib.request.Request(
            f"{api_server.url}/@connections/{connection_id}", method=method, data=b"{}"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    impostor = ManagementApiPoster(keys.region, credentials=("LOCALGUESS", keys.secret_key))
    with pytest.raises(ClientError, match="ForbiddenException"):
        impostor(api_server.url, connection_id, json.dumps({"type": "injected"}))

    # Then nothing reached the browser, and the server's own poster still works
    server = ManagementApiPoster(keys.region, credentials=(keys.access_key, keys.secret_key))
    server(api_server.url, connection_id, json.dumps({"type": "from-the-server"}))
    assert stream.until(lambda m: True) == {"type": "from-the-server"}
    stream.close()


def test_sample_events_run_through_the_handlers(api_server: Any):
    from pathlib import Path

    from agentic_mlops.api import rest, websocket
    from agentic_mlops.composition import container

    events = Path(__file__).parents[2] / "events"
    expected = {
        "create_project.json": {200, 201},
        "get_decision_set.json": {404},
        "approve.json": {404},
    }
    # The handlers answer from the server's platform, as the server itself calls them.
    with container.serving(api_server.platform):
        for path in sorted((events / "api").glob("*.json")):
            answer = rest.handle(json.loads(path.read_text()), None)
            assert answer["statusCode"] in expected[path.name], (path.name, answer)
            body = json.loads(answer["body"])
            assert (
                "error" in body
                if answer["statusCode"] >= 400
                else body["name"] == "churn-prediction"
            )

        connect = json.loads((events / "websocket" / "connect.json").read_text())
        assert websocket.handle(connect, None)["statusCode"] == 200
        recorded = api_server.platform.store.connection("L0SM9cOFvHcCIhw=")
        assert recorded.user == "alice@example.com"
        assert recorded.endpoint == api_server.url  # the local server's @connections override
        disconnect = json.loads((events / "websocket" / "disconnect.json").read_text())
        assert websocket.handle(disconnect, None)["statusCode"] == 200
        assert api_server.platform.store.connection("L0SM9cOFvHcCIhw=") is None
