"""The embedded PostgreSQL: where it keeps its data, and that the data outlives the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_mlops.persistence.database import (
    embedded_data_dir,
    platform_home,
    resolve_database_url,
)


def test_data_directory_comes_from_the_environment(tmp_path: Path) -> None:
    assert embedded_data_dir({"AGENTIC_MLOPS_PGDATA": str(tmp_path / "pg")}) == tmp_path / "pg"
    assert embedded_data_dir({"AGENTIC_MLOPS_HOME": str(tmp_path)}) == tmp_path / "pgdata"
    assert platform_home({}) == Path.home() / ".agentic-mlops"


def test_database_url_wins_over_the_embedded_server() -> None:
    url = "postgresql://user@db.example/platform"
    assert resolve_database_url({"DATABASE_URL": url, "AGENTIC_MLOPS_PGDATA": "/nowhere"}) == url


_WRITE = """
from agentic_mlops.persistence import open_database
db = open_database()
db.store.get_or_create_project("survives-restarts")
db.close()
"""
_READ = """
from agentic_mlops.persistence import open_database
db = open_database()
print([p.name for p in [db.store.get_or_create_project("survives-restarts")]])
with db.pool.connection() as conn:
    print(conn.execute("SELECT count(*) AS n FROM projects").fetchone()["n"])
db.close()
"""


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="starts its own embedded server; with DATABASE_URL set the suite uses that one only",
)
def test_embedded_data_persists_between_processes(tmp_path: Path) -> None:
    # Given a process that writes through the embedded server, then exits (stopping it)
    env = {**os.environ, "AGENTIC_MLOPS_PGDATA": str(tmp_path / "pg")}
    env.pop("DATABASE_URL", None)
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
