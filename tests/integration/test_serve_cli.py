"""``agentic-mlops serve`` and ``dev-token`` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "agentic_mlops.cli"]


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        AGENTIC_MLOPS_HOME=str(tmp_path / "home"),
        AGENTIC_MLOPS_ARTIFACT_DIR=str(tmp_path / "artifacts"),
        AGENTIC_MLOPS_REPOS_DIR=str(tmp_path / "repos"),
        COLUMNS="200",
    )
    env.pop("AGENTIC_MLOPS_DEV_TOKEN_SECRET", None)
    return env


def test_dev_token_prints_a_token_the_server_secret_verifies(tmp_path: Path, database_url: str):
    env = _env(tmp_path, database_url)
    done = subprocess.run(
        [*CLI, "dev-token", "--user", "alice", "--role", "approver", "--project", "prj-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    secret_file = tmp_path / "home" / "dev-token-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    from agentic_mlops.api.auth import verify_dev_token

    identity = verify_dev_token(token, secret=secret_file.read_text().strip())
    assert identity.user == "alice" and identity.has("approver", "prj-1")

    bad = subprocess.run(
        [*CLI, "dev-token", "--user", "alice", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_serve_prints_where_it_listens_serves_and_stops_on_ctrl_c(
    tmp_path: Path, database_url: str
):
    env = _env(tmp_path, database_url)
    server = subprocess.Popen(
        [*CLI, "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        found = re.search(r"REST API\s+(http://127\.0\.0\.1:\d+)/", output)
        assert found, output
        assert re.search(r"WebSocket\s+ws://127\.0\.0\.1:\d+/ws", output)
        with urllib.request.urlopen(found.group(1) + "/openapi.json", timeout=30) as answer:
            assert "/decision-sets/{decision_set_id}" in json.loads(answer.read())["paths"]
        web = re.search(r"Web app\s+(http://127\.0\.0\.1:\d+/app/)", output)
        assert web, output
        with urllib.request.urlopen(web.group(1), timeout=30) as answer:
            assert b'<div id="app">' in answer.read()
    finally:
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=60)
    assert server.returncode == 0, rest
    assert "Stopped." in rest and "Traceback" not in rest
