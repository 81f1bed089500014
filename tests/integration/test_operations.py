"""Operating the platform: JSON logs with correlation keys and never a secret, LangSmith
tracing switched on by its variables alone, checkpoints encrypted at rest."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import slack_fakes
from api_client import WORKLOAD, Rest, Stream

from agentic_mlops.persistence import Database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
CORRELATION = ("request_id", "run_id", "thread_id", "node_name")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
    raise AssertionError("serve did not start")


@pytest.fixture
def password_url(database: Database, database_url: str) -> str:
    """The session database through a role with a password (so the URL holds a secret)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    password = f"pw-{uuid.uuid4().hex}"
    role = f"ops_{uuid.uuid4().hex[:8]}"
    with database.pool.connection() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")
    parts = conninfo_to_dict(database_url)
    return make_conninfo(**{**parts, "user": role, "password": password})


def test_a_whole_run_logs_json_lines_with_its_keys_and_no_secret(
    password_url: str, fake_slack: slack_fakes.FakeSlack, tmp_path: Path
) -> None:
    # Given a server configured with every kind of secret, logging everything
    from psycopg.conninfo import conninfo_to_dict

    secrets = {
        "AGENTIC_MLOPS_DEV_TOKEN_SECRET": f"dev-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "SLACK_BOT_TOKEN": slack_fakes.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack_fakes.SIGNING_SECRET,
        "ANTHROPIC_API_KEY": f"sk-ant-{uuid.uuid4().hex}",
        "LANGGRAPH_AES_KEY": uuid.uuid4().hex[:32],
    }
    database_password = str(conninfo_to_dict(password_url)["password"])
    env = {
        **os.environ,
        **secrets,
        "DATABASE_URL": password_url,
        "AGENTIC_MLOPS_HOME": str(tmp_path / "home"),
        "AGENTIC_MLOPS_PROVIDER": "offline",
        "AGENTIC_MLOPS_LOG_LEVEL": "DEBUG",
        "SLACK_API_URL": fake_slack.api_url,
        "AGENTIC_MLOPS_SLACK_CHANNEL": slack_fakes.CHANNEL,
        "AGENTIC_MLOPS_SLACK_USERS": json.dumps(
            {slack_fakes.APPROVER: {"user": "sam", "projects": ["*"]}}
        ),
    }
    port, log = _free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "agentic_mlops.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_port(port, process, log)
        # When a run goes from request to its committed bundle, streamed, through Slack
        from agentic_mlops.api.auth import issue_dev_token

        secret = secrets["AGENTIC_MLOPS_DEV_TOKEN_SECRET"]
        bearer = issue_dev_token("ops", ["requester", "approver"], secret=secret)
        rest = Rest(f"http://127.0.0.1:{port}", bearer)
        status, project = rest.post("/projects", {"name": f"ops-{uuid.uuid4().hex[:6]}"})
        assert status == 201
        status, body = rest.post(f"/projects/{project['id']}/decision-sets", {"request": WORKLOAD})
        assert status == 202
        stream = Stream(f"ws://127.0.0.1:{port}/ws", bearer)
        stream.subscribe(body["id"])
        view = rest.wait_status(body["id"], {"awaiting_approval"})
        name = uuid.uuid4().hex
        click = slack_fakes.form_body(
            slack_fakes.click_payload(
                response_url=fake_slack.response_url(name), value=view["pending"]["id"]
            )
        )
        headers = slack_fakes.signed_headers(click, timestamp=time.time())
        status, _ = rest.call("POST", "/slack/interactions", raw=click.encode(), headers=headers)
        assert status == 200
        assert rest.wait_status(body["id"], {"approved", "failed"}, timeout=180)["status"] == (
            "approved"
        )
        stream.until(lambda m: m["type"] == "run-complete")
        stream.close()
        frames = json.dumps(stream.messages)
        _, events = rest.get(f"/decision-sets/{body['id']}/events?limit=500")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)

    # Then every log line is JSON carrying the correlation keys...
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert len(lines) > 20
    records = [json.loads(line) for line in lines]
    assert all(all(key in record for key in CORRELATION) for record in records)
    assert any(record["node_name"] == "validators" for record in records)
    assert any(record["request_id"] for record in records)
    assert any(record["thread_id"] == body["id"] for record in records)
    # ...and no secret appears in the logs, the answers, the frames or the timeline
    everything = log.read_text() + frames + json.dumps(events)
    for value in [*secrets.values(), database_password, bearer.split(".")[2]]:
        assert value not in everything


class _LangSmith(BaseHTTPRequestHandler):
    """A LangSmith endpoint that accepts everything and keeps the request bodies."""

    bodies: ClassVar[list[bytes]] = []

    def do_GET(self) -> None:
        self._answer({"version": "0.0.0"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(self.path.encode() + b" " + self.rfile.read(length))
        self._answer({})

    do_PATCH = do_POST

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


def test_langsmith_tracing_is_switched_on_by_its_variables_alone(
    database_url: str, tmp_path: Path
) -> None:
    # Given a LangSmith endpoint, and only LangSmith's own variables set
    _LangSmith.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LangSmith)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AGENTIC_MLOPS_HOME": str(tmp_path),
        "LANGSMITH_TRACING": "true",
        "LANGSMITH_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "LANGSMITH_API_KEY": "lsv2-test-key",
        "LANGSMITH_PROJECT": "agentic-mlops-tests",
    }
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from harness import Harness\n"
        "from agentic_mlops.persistence import open_database\n"
        "from agentic_mlops.providers.offline import OfflineProvider\n"
        "from langchain_core.tracers.langchain import wait_for_all_tracers\n"
        f"database = open_database({database_url!r}, migrate=True)\n"
        "platform = Harness(database, OfflineProvider())\n"
        f"read = platform.start('traced', {WORKLOAD!r})\n"
        "print(read.status)\n"
        "wait_for_all_tracers()\n"
    )
    try:
        # When a run goes to its approval gate
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "awaiting_approval"
    finally:
        server.shutdown()

    # Then the run was traced there, node by node
    received = b"\n".join(_LangSmith.bodies)
    assert any(body.startswith(b"/runs") for body in _LangSmith.bodies), _LangSmith.bodies[:3]
    for node in (b"extract_constraints", b"planner", b"critic_cost", b"policy_eval"):
        assert node in received, node


def _constraint_blobs(database: Database, thread_id: str) -> list[Any]:
    with database.pool.connection() as conn:
        return conn.execute(
            "SELECT type, blob FROM checkpoint_blobs WHERE thread_id = %s"
            " AND channel = 'constraints' AND blob IS NOT NULL",
            (thread_id,),
        ).fetchall()


def test_checkpoints_are_encrypted_at_rest_when_a_key_is_configured(database: Database) -> None:
    from harness import Harness

    from agentic_mlops.composition import checkpoint_serializer
    from agentic_mlops.providers.offline import OfflineProvider
    from agentic_mlops.settings import load_settings

    # Given a run checkpointed without a key: its blobs are readable msgpack
    plain = Harness(database, OfflineProvider())
    unencrypted = plain.start(f"plain-{uuid.uuid4().hex[:6]}", WORKLOAD).decision_set.id
    rows = _constraint_blobs(database, unencrypted)
    assert rows and any(b"eu-west-1" in bytes(row["blob"]) for row in rows)

    # When the AES key is configured and a run checkpoints
    settings = load_settings(environ={**os.environ, "LANGGRAPH_AES_KEY": uuid.uuid4().hex[:32]})
    encrypted = Database(
        pool=database.pool, store=database.store, serde=checkpoint_serializer(settings)
    )
    paused = Harness(encrypted, OfflineProvider(), settings=settings).start(
        f"enc-{uuid.uuid4().hex[:6]}", WORKLOAD
    )
    assert paused.status == "awaiting_approval"

    # Then its blobs are AES ciphertext, not the plain values
    rows = _constraint_blobs(database, paused.decision_set.id)
    assert rows and all(row["type"].endswith("+aes") for row in rows)
    assert not any(b"eu-west-1" in bytes(row["blob"]) for row in rows)
    # And another saver with the key reads them back (a resume works)
    reader = Database(
        pool=database.pool, store=database.store, serde=checkpoint_serializer(settings)
    )
    again = Harness(reader, OfflineProvider(), settings=settings)
    assert again.runner.outcome(paused.decision_set.id).state.constraints.region == "eu-west-1"


def test_a_function_on_a_database_whose_schema_is_behind_answers_503_in_words(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API and WebSocket functions never migrate: on an old schema they say what to run."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from agentic_mlops.api import rest, websocket
    from agentic_mlops.composition import container

    name = f"behind_{uuid.uuid4().hex[:8]}"
    with database.pool.connection() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    monkeypatch.setenv(
        "DATABASE_URL", make_conninfo(**{**conninfo_to_dict(database_url), "dbname": name})
    )
    container.reset()
    try:
        answer = rest.handle(
            {"httpMethod": "GET", "path": "/me", "resource": "/me", "headers": {}}, None
        )
        frame = websocket.handle(
            {"requestContext": {"routeKey": "$connect", "connectionId": "c-behind"}}, None
        )
    finally:
        container.reset()
    assert answer["statusCode"] == 503
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "schema_behind" and "agentic-mlops migrate" in error["message"]
    assert frame["statusCode"] == 503
