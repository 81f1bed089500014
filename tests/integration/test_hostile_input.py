"""Input a careless or hostile client sends: every case is a fast 4xx in the API's error
shape, and nothing is created (REST, WebSocket, Slack and the CLI share one validation
layer)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import slack_fakes
from api_client import WORKLOAD, Rest, Stream, token

from agentic_mlops.persistence import Database

pytestmark = pytest.mark.integration

ADMIN = ("requester", "approver")
NINES = "9" * 310


@pytest.fixture
def admin(api_server: Any) -> Rest:
    return Rest(api_server.url, token("alice", *ADMIN))


@pytest.fixture
def project(admin: Rest) -> str:
    status, body = admin.post("/projects", {"name": f"hostile-{uuid.uuid4().hex[:8]}"})
    assert status == 201, body
    return body["id"]


@pytest.fixture
def paused(admin: Rest, project: str) -> str:
    """A decision set waiting for approval."""
    status, body = admin.post(f"/projects/{project}/decision-sets", {"request": WORKLOAD})
    assert status == 202, body
    admin.wait_status(body["id"], {"awaiting_approval"})
    return body["id"]


def counts(database: Database) -> tuple[int, int, int]:
    with database.pool.connection() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM projects) AS p, (SELECT count(*) FROM decision_sets)"
            " AS d, (SELECT count(*) FROM approvals WHERE status = 'decided') AS w"
        ).fetchone()
    return row["p"], row["d"], row["w"]


def raw(rest: Rest, method: str, path: str, body: bytes) -> tuple[int, Any]:
    return rest.call(method, path, raw=body)


def assert_refused(answer: tuple[int, Any], *statuses: int) -> None:
    status, body = answer
    assert status in (statuses or (400, 413, 422)), (status, body)
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]


def test_bodies_the_api_cannot_take_are_refused_before_any_work(
    api_server: Any, admin: Rest, project: str, paused: str, database: Database
) -> None:
    before = counts(database)
    deep = ("[" * 1200 + "]" * 1200).encode()
    cases = {
        "nested 1,200 deep": raw(admin, "POST", "/projects", b'{"name": ' + deep + b"}"),
        "not UTF-8": raw(admin, "POST", "/projects", b'{"name": "caf\xe9"}'),
        "a 310-digit number": raw(
            admin, "POST", f"/decision-sets/{paused}/revisions", f'{{"from_seq": {NINES}}}'.encode()
        ),
        "infinity": raw(
            admin, "POST", f"/decision-sets/{paused}/revisions", b'{"from_seq": 1e999}'
        ),
        "NaN": raw(admin, "POST", f"/decision-sets/{paused}/revisions", b'{"from_seq": NaN}'),
        "over 256 KB": admin.post("/projects", {"name": "x" * 300_000}),
        "a 9 MB answer": admin.post(
            f"/projects/{project}/decision-sets",
            {"request": WORKLOAD, "answers": {"budget": "9" * 9_000_000}},
        ),
    }
    for name, answer in cases.items():
        assert_refused(answer)
        assert answer[0] != 500, name
    assert cases["nested 1,200 deep"][1]["error"]["code"] == "invalid_json"
    assert cases["not UTF-8"][1]["error"]["code"] == "invalid_json"
    assert cases["over 256 KB"][0] == cases["a 9 MB answer"][0] == 413
    assert counts(database) == before


def test_text_that_cannot_be_stored_is_refused_everywhere(
    api_server: Any, admin: Rest, project: str, paused: str, database: Database
) -> None:
    before = counts(database)
    nul, lone = "bad\u0000text", "bad\ud800text"
    lone_json = b'{"request": "bad\\ud800text"}'
    cases = [
        admin.post("/projects", {"name": nul}),
        admin.post(f"/projects/{project}/decision-sets", {"request": nul}),
        raw(admin, "POST", f"/projects/{project}/decision-sets", lone_json),
        admin.post(
            f"/projects/{project}/decision-sets", {"request": WORKLOAD, "answers": {"budget": nul}}
        ),
        admin.get(f"/decision-sets/{paused}/events?type=reason%00card"),
        admin.post(f"/decision-sets/{paused}/approval", {"decision": "reject", "comment": nul}),
        admin.post(f"/decision-sets/{paused}/revisions", {"change": nul}),
        admin.post(f"/decision-sets/{paused}/revisions", {"change": lone}),
        admin.get(f"/decision-sets/ds-{'%00' * 3}"),
    ]
    for answer in cases:
        assert_refused(answer, 400, 404, 422)
    assert counts(database) == before
    status, view = admin.get(f"/decision-sets/{paused}")
    assert status == 200 and view["status"] == "awaiting_approval"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data_volume_gb", NINES),
        ("throughput_rps", NINES),
        ("budget", f"${NINES} per month"),
        ("budget", "1e999 USD"),
    ],
)
def test_numbers_out_of_range_are_refused_before_the_run_starts(
    admin: Rest, project: str, database: Database, field: str, value: str
) -> None:
    before = counts(database)
    answer = admin.post(
        f"/projects/{project}/decision-sets", {"request": WORKLOAD, "answers": {field: value}}
    )
    assert_refused(answer, 400)
    assert field in answer[1]["error"]["message"]
    assert counts(database) == before


def test_the_websocket_answers_bad_messages_and_stays_open(api_server: Any, paused: str) -> None:
    stream = Stream(api_server.ws_url, token("alice", *ADMIN))
    bad = [
        {"action": "subscribe", "decision_set_id": "ds-\u0000x"},
        {"action": "subscribe", "decision_set_id": paused, "since": 2**63},
        {"action": "subscribe", "decision_set_id": paused, "since": -1},
        {"action": "subscribe", "decision_set_id": ["ds-x"]},
    ]
    for message in bad:
        stream.send(message)
        reply = stream.until(lambda m: m["type"] in {"error", "subscribed"})
        assert reply["type"] == "error", reply
        assert reply["code"] in {"invalid_message", "invalid_input"}, reply
    stream.connection.send("[" * 5000 + "]" * 5000)
    assert stream.until(lambda m: True)["code"] == "invalid_json"
    stream.connection.send(b"\xff\xfe binary")
    assert stream.until(lambda m: True)["code"] == "invalid_message"
    # the connection is still open and works
    stream.send({"action": "ping"})
    assert stream.until(lambda m: True) == {"type": "pong"}
    stream.close()


def test_a_slack_click_with_an_unusable_approval_id_is_refused(
    api_server: Any, admin: Rest, paused: str, database: Database
) -> None:
    before = counts(database)
    name = uuid.uuid4().hex
    body = slack_fakes.form_body(
        slack_fakes.click_payload(response_url="http://127.0.0.1:9/x", value="wait-\u0000" + name)
    )
    headers = slack_fakes.signed_headers(body, timestamp=time.time())
    status, answer = admin.call("POST", "/slack/interactions", raw=body.encode(), headers=headers)
    assert status == 400 and answer["error"]["code"] == "malformed_payload"
    assert counts(database) == before


def test_the_cli_refuses_the_same_input_in_one_line(
    tmp_path: Any, database: Database, database_url: str
) -> None:
    import os
    import subprocess
    import sys

    before = counts(database)
    answers = tmp_path / "answers.json"
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTIC_MLOPS_HOME": str(tmp_path)}
    for content in (
        json.dumps({"budget": "one\u0000two"}),
        '{"budget": "bad\\ud800"}',
        json.dumps({"data_volume_gb": NINES}),
    ):
        answers.write_text(content)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "agentic_mlops.cli",
                "run",
                WORKLOAD,
                "--answers-file",
                str(answers),
                "--no-input",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        error = json.loads(done.stdout)["error"]
        assert error["code"] == "invalid_input" and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert counts(database) == before
