"""The platform store: an interface and its PostgreSQL implementation.

Rules kept here, so that callers cannot forget them:

* every update of a decision set carries ``WHERE id = ? AND version = ?``; losing the
  race raises :class:`~agentic_mlops.errors.VersionConflict`, which
  :meth:`PlatformStore.update_decision_set` retries with exponential backoff and jitter;
* events are numbered per decision set and deduplicated by a key, so replaying a node
  never duplicates its events;
* a node's recorded output and its events are written in one transaction.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from agentic_mlops.errors import AlreadyDecided, NotFound, VersionConflict
from agentic_mlops.persistence.models import (
    AgentRun,
    DecisionSet,
    Event,
    NewEvent,
    Project,
    Wait,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

Mutation = Callable[[DecisionSet], dict[str, Any]]
EventListener = Callable[[str, list[Event]], None]
_UPDATABLE = frozenset({"status", "commit_sha", "metadata"})
_WAIT_COLUMNS = (
    "id, decision_set_id, kind, wait_key, status, request, response, decided_by,"
    " created_at, decided_at"
)


_UPSERT_RUN_SQL = """
INSERT INTO agent_runs (key, decision_set_id, node, input_hash, status, output, error,
                        duration_ms)
VALUES (%(key)s, %(ds)s, %(node_name)s, %(input_hash)s, %(status)s, %(output)s, %(error)s,
        %(duration_ms)s)
ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output,
    error = EXCLUDED.error, duration_ms = EXCLUDED.duration_ms,
    executions = agent_runs.executions + 1, updated_at = now()
"""

_INSERT_EVENTS_SQL = """
bump AS (
    UPDATE decision_sets SET last_event_seq = last_event_seq + %(n)s
    WHERE id = %(ds)s
    RETURNING last_event_seq - %(n)s AS base
)
INSERT INTO events (decision_set_id, seq, type, node, payload, step, dedupe_key)
SELECT %(ds)s, bump.base + e.ord, e.type, e.node, e.payload, e.step, e.key
FROM bump, unnest(
    %(ord)s::int[], %(type)s::text[], %(node)s::text[], %(payload)s::jsonb[], %(step)s::int[],
    %(dedupe_keys)s::text[]
) AS e(ord, type, node, payload, step, key)
ORDER BY e.ord
ON CONFLICT (decision_set_id, dedupe_key) DO NOTHING
RETURNING *
"""
"""Reserves a range of sequence numbers and inserts the events, in one statement."""


def _event_params(decision_set_id: str, events: Sequence[NewEvent]) -> dict[str, Any]:
    return {
        "ds": decision_set_id,
        "n": len(events),
        "ord": list(range(1, len(events) + 1)),
        "type": [e.type for e in events],
        "node": [e.node for e in events],
        "payload": [Jsonb(e.payload) for e in events],
        "step": [e.step for e in events],
        "dedupe_keys": [e.dedupe_key for e in events],
    }


def _run_params(run: AgentRun) -> dict[str, Any]:
    return {
        "key": run.key,
        "ds": run.decision_set_id,
        "node_name": run.node,
        "input_hash": run.input_hash,
        "status": run.status,
        "output": None if run.output is None else Jsonb(run.output),
        "error": run.error,
        "duration_ms": run.duration_ms,
    }


def _decision_set_exists(conn: psycopg.Connection[Any], decision_set_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM decision_sets WHERE id = %s", (decision_set_id,))
    return row.fetchone() is not None


def new_id(prefix: str) -> str:
    """Return a new short random id such as ``ds-3f2a9c1b7d4e``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class PlatformStore(ABC):
    """Durable records of projects, decision sets, events, node runs, jobs and waits."""

    @abstractmethod
    def get_or_create_project(self, name: str) -> Project:
        """Return the project with this name, creating it if needed."""

    @abstractmethod
    def create_decision_set(
        self, project_id: str, request: str, parent_id: str | None = None
    ) -> DecisionSet:
        """Create a decision set in status ``created``."""

    @abstractmethod
    def get_decision_set(self, decision_set_id: str) -> DecisionSet:
        """Return a decision set or raise :class:`NotFound`."""

    @abstractmethod
    def update_decision_set(self, decision_set_id: str, mutate: Mutation) -> DecisionSet:
        """Apply ``mutate(current) -> changes`` under optimistic locking, retrying on races."""

    @abstractmethod
    def append_events(self, decision_set_id: str, events: Sequence[NewEvent]) -> list[Event]:
        """Append events; return those newly stored (duplicates by key are skipped)."""

    @abstractmethod
    def list_events(
        self,
        decision_set_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        event_type: str | None = None,
    ) -> list[Event]:
        """Return the timeline in order."""

    @abstractmethod
    def succeeded_output(self, key: str) -> dict[str, Any] | None:
        """Return the cached output of a succeeded node run, if any."""

    @abstractmethod
    def complete_run(self, run: AgentRun, events: Sequence[NewEvent]) -> list[Event]:
        """Record a node run and its events atomically; return the newly stored events."""

    @abstractmethod
    def list_runs(self, decision_set_id: str) -> list[AgentRun]:
        """Return the node runs of a decision set in the order they were first recorded."""


class PostgresStore(PlatformStore):
    """:class:`PlatformStore` on PostgreSQL through a psycopg connection pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._listeners: list[EventListener] = []

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(decision_set_id, events)`` after new events are stored.

        Listeners publish (WebSocket fan-out); one that raises is logged and skipped, so
        a broken stream never disturbs the run that stored the events.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling a listener added with :meth:`add_listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _published(self, decision_set_id: str, events: list[Event]) -> list[Event]:
        if events:
            for listener in self._listeners:
                try:
                    listener(decision_set_id, events)
                except Exception:
                    logger.warning("event listener %r failed", listener, exc_info=True)
        return events

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool (for the platform's other stores on the same database)."""
        return self._pool

    # projects and decision sets ---------------------------------------------------------

    def get_or_create_project(self, name: str) -> Project:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO projects (id, name) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                (new_id("prj"), name),
            )
            row = conn.execute("SELECT * FROM projects WHERE name = %s", (name,)).fetchone()
        return Project.model_validate(row)

    def create_project(self, name: str) -> tuple[Project, bool]:
        """Create a project, or find the one with that name; (project, created)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO projects (id, name) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING"
                " RETURNING *",
                (new_id("prj"), name),
            ).fetchone()
            if row is not None:
                return Project.model_validate(row), True
            row = conn.execute("SELECT * FROM projects WHERE name = %s", (name,)).fetchone()
        return Project.model_validate(row), False

    def get_project(self, project_id: str) -> Project:
        """Return a project or raise :class:`NotFound`."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT * FROM projects WHERE id = %s", (project_id,)).fetchone()
        if row is None:
            raise NotFound(f"no project with id {project_id!r}")
        return Project.model_validate(row)

    def create_decision_set(
        self, project_id: str, request: str, parent_id: str | None = None
    ) -> DecisionSet:
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO decision_sets (id, project_id, parent_id, request, status)"
                " VALUES (%s, %s, %s, %s, 'created') RETURNING *",
                (new_id("ds"), project_id, parent_id, request),
            ).fetchone()
        return DecisionSet.model_validate(row)

    def get_decision_set(self, decision_set_id: str) -> DecisionSet:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT * FROM decision_sets WHERE id = %s", (decision_set_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return DecisionSet.model_validate(row)

    def list_decision_sets(self, project_id: str | None = None) -> list[DecisionSet]:
        """Return decision sets, newest first, optionally of one project."""
        query = "SELECT * FROM decision_sets"
        params: tuple[Any, ...] = ()
        if project_id:
            query += " WHERE project_id = %s"
            params = (project_id,)
        with self._pool.connection() as conn:
            rows = conn.execute(query + " ORDER BY created_at DESC", params).fetchall()
        return [DecisionSet.model_validate(r) for r in rows]

    def update_decision_set(self, decision_set_id: str, mutate: Mutation) -> DecisionSet:
        retrying = Retrying(
            retry=retry_if_exception_type(VersionConflict),
            wait=wait_random_exponential(multiplier=0.005, max=0.25),
            stop=stop_after_attempt(30),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._update_once(decision_set_id, mutate)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _update_once(self, decision_set_id: str, mutate: Mutation) -> DecisionSet:
        current = self.get_decision_set(decision_set_id)
        changes = mutate(current)
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"decision set columns not updatable: {sorted(unknown)}")
        if not changes:
            return current
        assignments = ", ".join(f"{column} = %s" for column in changes)
        values = [Jsonb(v) if column == "metadata" else v for column, v in changes.items()]
        with self._pool.connection() as conn:
            row = conn.execute(
                f"UPDATE decision_sets SET {assignments}, version = version + 1,"
                " updated_at = now() WHERE id = %s AND version = %s RETURNING *",
                (*values, decision_set_id, current.version),
            ).fetchone()
        if row is None:
            raise VersionConflict(f"decision set {decision_set_id} changed concurrently")
        return DecisionSet.model_validate(row)

    def set_status(self, decision_set_id: str, status: str) -> DecisionSet:
        """Set a decision set's status (optimistically locked)."""
        return self.update_decision_set(
            decision_set_id, lambda ds: {} if ds.status == status else {"status": status}
        )

    # events ---------------------------------------------------------------------------

    def append_events(self, decision_set_id: str, events: Sequence[NewEvent]) -> list[Event]:
        if not events:
            return []
        with self._pool.connection() as conn, conn.transaction():
            stored = self._insert_events(conn, decision_set_id, events)
        return self._published(decision_set_id, stored)

    @staticmethod
    def _insert_events(
        conn: psycopg.Connection[Any],
        decision_set_id: str,
        events: Sequence[NewEvent],
        *,
        run: AgentRun | None = None,
    ) -> list[Event]:
        """Insert events (and, with ``run``, the node run) in one atomic statement."""
        params = _event_params(decision_set_id, events)
        sql = "WITH " + _INSERT_EVENTS_SQL
        if run is not None:
            sql = f"WITH run AS ({_UPSERT_RUN_SQL}), " + _INSERT_EVENTS_SQL
            params |= _run_params(run)
        rows = conn.execute(sql, params).fetchall()
        if not rows and not _decision_set_exists(conn, decision_set_id):
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return [Event.model_validate(r) for r in rows]

    def list_events(
        self,
        decision_set_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        event_type: str | None = None,
    ) -> list[Event]:
        query = "SELECT * FROM events WHERE decision_set_id = %s AND seq > %s"
        params: list[Any] = [decision_set_id, after]
        if event_type:
            query += " AND type = %s"
            params.append(event_type)
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        with self._pool.connection() as conn:
            rows = conn.execute(query, params).fetchall()
        return [Event.model_validate(r) for r in rows]

    def steps_without_checkpoint(self, decision_set_id: str) -> list[int]:
        """Return the graph steps whose events are not yet linked to a checkpoint."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT step FROM events WHERE decision_set_id = %s"
                " AND checkpoint_id IS NULL AND step IS NOT NULL ORDER BY step",
                (decision_set_id,),
            ).fetchall()
        return [r["step"] for r in rows]

    def link_checkpoint(self, decision_set_id: str, step: int, checkpoint_id: str) -> None:
        """Record the checkpoint written after ``step`` on that step's events."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE events SET checkpoint_id = %s WHERE decision_set_id = %s"
                " AND step = %s AND checkpoint_id IS NULL",
                (checkpoint_id, decision_set_id, step),
            )

    # node runs ------------------------------------------------------------------------

    def succeeded_output(self, key: str) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT output FROM agent_runs WHERE key = %s AND status = 'succeeded'", (key,)
            ).fetchone()
        return None if row is None else row["output"]

    def complete_run(self, run: AgentRun, events: Sequence[NewEvent]) -> list[Event]:
        # One statement: one round trip, and atomic even on an autocommit connection.
        with self._pool.connection() as conn:
            if not events:
                conn.execute(_UPSERT_RUN_SQL, _run_params(run))
                return []
            stored = self._insert_events(conn, run.decision_set_id, events, run=run)
        return self._published(run.decision_set_id, stored)

    def list_runs(self, decision_set_id: str) -> list[AgentRun]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT * FROM agent_runs WHERE decision_set_id = %s ORDER BY created_at, key",
                (decision_set_id,),
            ).fetchall()
        return [AgentRun.model_validate(r) for r in rows]

    # jobs -----------------------------------------------------------------------------

    def start_job(self, decision_set_id: str, engine: str, action: str) -> str:
        """Record the start of an engine execution; return the job id."""
        job_id = new_id("job")
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO jobs (id, decision_set_id, engine, action, status)"
                " VALUES (%s, %s, %s, %s, 'running')",
                (job_id, decision_set_id, engine, action),
            )
        return job_id

    def finish_job(self, job_id: str, status: str, error: str | None = None) -> None:
        """Record the end of an engine execution."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE jobs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
                (status, error, job_id),
            )

    def mark_stream_abandoned(self, job_id: str) -> None:
        """Record that the live consumer of a job went away (the timeline is complete)."""
        with self._pool.connection() as conn:
            conn.execute("UPDATE jobs SET stream_abandoned = true WHERE id = %s", (job_id,))

    # human waits ----------------------------------------------------------------------

    def open_wait(
        self,
        decision_set_id: str,
        kind: str,
        wait_key: str,
        request: dict[str, Any],
        task_token: str | None = None,
    ) -> Wait:
        """Record a pending wait; opening the same ``wait_key`` again returns the first."""
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO approvals (id, decision_set_id, kind, wait_key, status, request,"
                " task_token) VALUES (%s, %s, %s, %s, 'pending', %s, %s)"
                " ON CONFLICT (decision_set_id, wait_key) DO NOTHING",
                (new_id("wait"), decision_set_id, kind, wait_key, Jsonb(request), task_token),
            )
            row = conn.execute(
                f"SELECT {_WAIT_COLUMNS} FROM approvals"
                " WHERE decision_set_id = %s AND wait_key = %s",
                (decision_set_id, wait_key),
            ).fetchone()
        return Wait.model_validate(row)

    def expire_waits(self, decision_set_id: str) -> int:
        """Close the pending waits of a failed run; return how many were pending."""
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE approvals SET status = 'expired', decided_at = now()"
                " WHERE decision_set_id = %s AND status = 'pending'",
                (decision_set_id,),
            )
            return cursor.rowcount

    def attach_task_token(self, wait_id: str, task_token: str) -> None:
        """Keep the engine's resume token with a pending wait (replacing a retried one)."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE approvals SET task_token = %s WHERE id = %s AND status = 'pending'",
                (task_token, wait_id),
            )

    def task_token(self, wait_id: str) -> str | None:
        """Return a wait's resume token. Server side only: never send it to a client."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT task_token FROM approvals WHERE id = %s", (wait_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no wait with id {wait_id!r}")
        return row["task_token"]

    def latest_wait(self, decision_set_id: str, kind: str | None = None) -> Wait | None:
        """Return the most recent wait of a decision set (of one kind, if given)."""
        query = f"SELECT {_WAIT_COLUMNS} FROM approvals WHERE decision_set_id = %s"
        params: list[Any] = [decision_set_id]
        if kind:
            query += " AND kind = %s"
            params.append(kind)
        with self._pool.connection() as conn:
            row = conn.execute(
                query + " ORDER BY created_at DESC, id DESC LIMIT 1", params
            ).fetchone()
        return None if row is None else Wait.model_validate(row)

    def decide_wait(self, wait_id: str, response: dict[str, Any], decided_by: str) -> Wait:
        """Record the answer to a pending wait, exactly once.

        Raises:
            AlreadyDecided: if the wait was decided before (the message says how).
        """
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE approvals SET status = 'decided', response = %s, decided_by = %s,"
                " decided_at = now() WHERE id = %s AND status = 'pending'"
                f" RETURNING {_WAIT_COLUMNS}",
                (Jsonb(response), decided_by, wait_id),
            ).fetchone()
            if row is None:
                existing = conn.execute(
                    f"SELECT {_WAIT_COLUMNS} FROM approvals WHERE id = %s", (wait_id,)
                ).fetchone()
        if row is not None:
            return Wait.model_validate(row)
        if existing is None:
            raise NotFound(f"no wait with id {wait_id!r}")
        decided = Wait.model_validate(existing)
        raise AlreadyDecided(
            f"{decided.kind} {wait_id} was already decided by {decided.decided_by}"
        )

    def get_wait(self, wait_id: str) -> Wait:
        """Return a wait by id (an approval id carried by a Slack button, for example).

        Raises:
            NotFound: no wait has that id.
        """
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_WAIT_COLUMNS} FROM approvals WHERE id = %s", (wait_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no approval or question with id {wait_id!r}")
        return Wait.model_validate(row)

    def claim_notification(self, wait_id: str, channel: str) -> bool:
        """Claim the right to notify ``channel`` about a wait, once (True for the winner)."""
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE approvals SET notifications = notifications || %s"
                " WHERE id = %s AND NOT notifications ? %s",
                (Jsonb({channel: {"status": "claimed"}}), wait_id, channel),
            )
            return cursor.rowcount == 1

    def release_notification(self, wait_id: str, channel: str) -> None:
        """Give back a claim whose notification failed, so that it can be tried again."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE approvals SET notifications = notifications - %s WHERE id = %s",
                (channel, wait_id),
            )

    def record_notification(self, wait_id: str, channel: str, details: dict[str, Any]) -> None:
        """Keep what a notification produced (a Slack message ts, for example)."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE approvals SET notifications = notifications || %s WHERE id = %s",
                (Jsonb({channel: details}), wait_id),
            )

    def latest_job(self, decision_set_id: str) -> dict[str, Any] | None:
        """The decision set's latest engine job (id, action, status, stream_abandoned...)."""
        with self._pool.connection() as conn:
            return conn.execute(
                "SELECT id, engine, action, status, stream_abandoned, error, started_at,"
                " finished_at FROM jobs WHERE decision_set_id = %s"
                " ORDER BY started_at DESC, id DESC LIMIT 1",
                (decision_set_id,),
            ).fetchone()
