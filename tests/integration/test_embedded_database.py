"""The embedded PostgreSQL: where it keeps its data, that the data outlives the process,
and that a process killed with SIGKILL does not keep the server alive forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentic_mlops.persistence.database import embedded_data_dir, resolve_database_url
from agentic_mlops.settings import load_settings


def test_data_directory_comes_from_the_settings(tmp_path: Path) -> None:
    explicit = load_settings(environ={"AGENTIC_MLOPS_PGDATA": str(tmp_path / "pg")})
    assert embedded_data_dir(explicit.database, explicit.home) == tmp_path / "pg"
    home = load_settings(environ={"AGENTIC_MLOPS_HOME": str(tmp_path)})
    assert embedded_data_dir(home.database, home.home) == tmp_path / "pgdata"
    assert load_settings(environ={}).home == Path.home() / ".agentic-mlops"


def test_database_url_wins_over_the_embedded_server() -> None:
    url = "postgresql://user@db.example/platform"
    settings = load_settings(environ={"DATABASE_URL": url, "AGENTIC_MLOPS_PGDATA": "/nowhere"})
    assert resolve_database_url(settings.database, settings.home) == url


_OPEN = """
from agentic_mlops.persistence import open_database
from agentic_mlops.persistence.database import resolve_database_url
from agentic_mlops.settings import load_settings
settings = load_settings()
db = open_database(resolve_database_url(settings.database, settings.home), migrate=True)
"""
_WRITE = (
    _OPEN
    + """
db.store.get_or_create_project("survives-restarts")
db.close()
"""
)
_READ = (
    _OPEN
    + """
print([p.name for p in [db.store.get_or_create_project("survives-restarts")]])
with db.pool.connection() as conn:
    print(conn.execute("SELECT count(*) AS n FROM projects").fetchone()["n"])
db.close()
"""
)
_HOLD = (
    _OPEN
    + """
import sys, time
print("ready", flush=True)
time.sleep(120)
"""
)

needs_embedded = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="starts its own embedded server; with DATABASE_URL set the suite uses that one only",
)


def _env(pgdata: Path) -> dict[str, str]:
    env = {**os.environ, "AGENTIC_MLOPS_PGDATA": str(pgdata)}
    env.pop("DATABASE_URL", None)
    return env


@needs_embedded
def test_embedded_data_persists_between_processes(tmp_path: Path) -> None:
    # Given a process that writes through the embedded server, then exits (stopping it)
    env = _env(tmp_path / "pg")
    first = subprocess.run(
        [sys.executable, "-c", _WRITE], env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "pg" / "PG_VERSION").exists()

    # When another process starts the server again on the same directory
    second = subprocess.run(
        [sys.executable, "-c", _READ], env=env, capture_output=True, text=True, timeout=120
    )

    # Then the row written by the first process is still there (and not duplicated)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split("\n")[1] == "1"


def _postmaster_alive(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@needs_embedded
def test_a_killed_process_does_not_keep_the_server_running(tmp_path: Path) -> None:
    # Given a process using the embedded server, killed with SIGKILL (no clean exit)
    pgdata, env = tmp_path / "pg", _env(tmp_path / "pg")
    held = subprocess.Popen(
        [sys.executable, "-c", _HOLD], env=env, stdout=subprocess.PIPE, text=True
    )
    assert held.stdout is not None and held.stdout.readline().strip() == "ready"
    held.send_signal(signal.SIGKILL)
    held.wait(30)
    handles = pgdata / ".handle_pids.json"
    assert held.pid in json.loads(handles.read_text())  # the dead pid is still listed
    assert _postmaster_alive(pgdata)

    # When another process uses the server and exits cleanly
    later = subprocess.run(
        [sys.executable, "-c", _WRITE], env=env, capture_output=True, text=True, timeout=120
    )

    # Then the dead process was forgotten, and the last live user stopped the server
    assert later.returncode == 0, later.stderr
    assert held.pid not in json.loads(handles.read_text())
    deadline = time.monotonic() + 30
    while _postmaster_alive(pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postmaster_alive(pgdata)
