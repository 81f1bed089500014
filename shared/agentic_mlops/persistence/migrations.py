"""Versioned schema migrations, applied by an explicit step.

Migrations are the numbered ``migrations/NNNN_name.sql`` files of this package, applied in
order, each once, under an advisory lock so that concurrent starts are safe; LangGraph's
checkpoint tables are set up in the same step. The CLI and ``serve`` run the step when they
start; in AWS a deploy-time function runs it once per deploy, and the other functions only
check (:func:`check_schema`) that the schema is current.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from agentic_mlops.errors import SchemaBehind

if TYPE_CHECKING:
    from agentic_mlops.persistence import Database

logger = logging.getLogger(__name__)

_LOCK_ID = 7_324_917_001  # pg_advisory_lock key reserved for platform migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema migration."""

    version: int
    name: str
    sql: str


@cache
def available_migrations() -> tuple[Migration, ...]:
    """Return the migrations shipped with the package, in version order."""
    folder = resources.files("agentic_mlops.persistence") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda m: m.version))


def latest_version() -> int:
    """The schema version this code needs."""
    return available_migrations()[-1].version


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the pending SQL migrations; return the versions applied now."""
    applied_now: list[int] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        with conn.cursor(row_factory=tuple_row) as cur:
            done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations")}
        for migration in available_migrations():
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied_now.append(migration.version)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest applied platform migration (0 for an empty database)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        exists = cur.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if exists is None or exists[0] is None:
            return 0
        row = cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check_schema(conn: psycopg.Connection[Any]) -> None:
    """Refuse to work on a schema older than this code.

    Raises:
        SchemaBehind: naming both versions and how to migrate.
    """
    current, needed = schema_version(conn), latest_version()
    if current < needed:
        raise SchemaBehind(
            f"the database schema is at version {current} and this release needs {needed}:"
            " run `agentic-mlops migrate` (in AWS, the deploy runs the migration function)"
        )


def migrate_database(database: Database) -> list[int]:
    """The whole migration step: the platform's SQL migrations, LangGraph's checkpoint
    tables, and the read model of decision sets created before it existed."""
    with database.pool.connection() as conn:
        applied = migrate(conn)
    database.checkpointer.setup()
    backfill_read_model(database)
    return applied


def backfill_read_model(database: Database) -> int:
    """Fill the state of decision sets that predate the read model from their latest
    checkpoint; return how many were filled."""
    with database.pool.connection() as conn:
        ids = [
            row["id"]
            for row in conn.execute("SELECT id FROM decision_sets WHERE state = '{}'::jsonb")
        ]
    filled = 0
    for decision_set_id in ids:
        found = database.checkpointer.get_tuple({"configurable": {"thread_id": decision_set_id}})
        if found is None:
            continue
        values = dict(found.checkpoint.get("channel_values") or {})
        state = {k: v for k, v in values.items() if not k.startswith(("__", "branch:"))}
        with database.pool.connection() as conn:
            conn.execute(
                "UPDATE decision_sets SET state = %s WHERE id = %s AND state = '{}'::jsonb",
                (Jsonb(state), decision_set_id),
            )
        filled += 1
    if filled:
        logger.info("read model filled for %d decision set(s) from their checkpoints", filled)
    return filled
