"""The platform store on PostgreSQL (see :mod:`agentic_mlops.persistence.interfaces`).

Every query of the platform's own tables lives here; callers type against the interfaces.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from agentic_mlops.errors import AlreadyDecided, NotFound, VersionConflict
from agentic_mlops.persistence.interfaces import EventListener, Mutation, PlatformStore
from agentic_mlops.persistence.models import (
    AgentRun,
    Connection,
    DecisionSet,
    DecisionSetRecord,
    Event,
    NewEvent,
    PendingApproval,
    Project,
    Subscriber,
    Wait,
    new_id,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

_UPDATABLE = frozenset({"status", "commit_sha", "metadata"})
_DS_COLUMNS = (
    "id, project_id, parent_id, request, status, version, last_event_seq, commit_sha,"
    " metadata, created_at, updated_at"
)
_WAIT_FIELDS = (
    "id",
    "decision_set_id",
    "kind",
    "wait_key",
    "status",
    "request",
    "response",
    "decided_by",
    "created_at",
    "decided_at",
)
_WAIT_COLUMNS = ", ".join(_WAIT_FIELDS)
_LEASE_CLASS = 7_324_917  # first key of the run leases' advisory locks
_UNSETTLED = ("created", "running")
_PAUSED = ("awaiting_input", "awaiting_approval")

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
    UPDATE decision_sets SET last_event_seq = last_event_seq + %(n)s,
                             state = state || %(state_update)s
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
"""Reserves a range of sequence numbers, merges a node's output into the read model and
inserts the events, in one statement."""

_READ_SQL = f"""
SELECT {", ".join(f"d.{c.strip()}" for c in _DS_COLUMNS.split(","))}, {{state}} AS state,
       {", ".join(f"w.{c} AS w_{c}" for c in _WAIT_FIELDS)},
       coalesce(j.stream_abandoned, false) AS stream_abandoned
FROM decision_sets d
LEFT JOIN LATERAL (
    SELECT {_WAIT_COLUMNS} FROM approvals
    WHERE decision_set_id = d.id ORDER BY created_at DESC, id DESC LIMIT 1
) w ON true
LEFT JOIN LATERAL (
    SELECT stream_abandoned FROM jobs
    WHERE decision_set_id = d.id ORDER BY started_at DESC, id DESC LIMIT 1
) j ON true
"""
"""A decision set with its state, latest wait and stream flag (``{state}`` is the state
expression: the whole read model, or the summary of a list)."""

_SUMMARY_STATE = """jsonb_build_object(
    'plan', jsonb_build_object('name', d.state->'plan'->'name',
                               'region', d.state->'plan'->'region'),
    'cost', jsonb_build_object('monthly_total_usd', d.state->'cost'->'monthly_total_usd',
                               'budget_monthly_usd', d.state->'cost'->'budget_monthly_usd'),
    'policy', jsonb_build_object('overall', d.state->'policy'->'overall'),
    'technical_critique', jsonb_build_object(
        'verdict', d.state->'technical_critique'->'verdict'),
    'validation', jsonb_build_object('passed', d.state->'validation'->'passed',
                                     'outcome', d.state->'validation'->'outcome'))"""
"""What a listing shows of each state (the whole state would be tens of KB per row)."""


def _event_params(
    decision_set_id: str, events: Sequence[NewEvent], state_update: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "ds": decision_set_id,
        "n": len(events),
        "ord": list(range(1, len(events) + 1)),
        "type": [e.type for e in events],
        "node": [e.node for e in events],
        "payload": [Jsonb(e.payload) for e in events],
        "step": [e.step for e in events],
        "dedupe_keys": [e.dedupe_key for e in events],
        "state_update": Jsonb(state_update or {}),
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


def _record(row: dict[str, Any]) -> DecisionSetRecord:
    wait = None
    if row.get("w_id") is not None:
        wait = Wait.model_validate({c: row[f"w_{c}"] for c in _WAIT_FIELDS})
    decision_set = DecisionSet.model_validate(row)
    return DecisionSetRecord(
        decision_set=decision_set,
        state=row["state"] or {},
        wait=wait,
        stream_abandoned=bool(row["stream_abandoned"]),
    )


class _Deliveries:
    """One delivery round, inside the transaction that locks the subscriptions."""

    def __init__(
        self, conn: psycopg.Connection[Any], decision_set_id: str, subscribers: list[Subscriber]
    ) -> None:
        self._conn = conn
        self._decision_set_id = decision_set_id
        self.subscribers = subscribers

    def events_after(self, seq: int) -> list[Event]:
        rows = self._conn.execute(
            "SELECT * FROM events WHERE decision_set_id = %s AND seq > %s ORDER BY seq",
            (self._decision_set_id, seq),
        ).fetchall()
        return [Event.model_validate(r) for r in rows]

    def delivered(self, connection_id: str, seq: int) -> None:
        self._conn.execute(
            "UPDATE subscriptions SET delivered_seq = %s"
            " WHERE connection_id = %s AND decision_set_id = %s",
            (seq, connection_id, self._decision_set_id),
        )

    def gone(self, connection_ids: Sequence[str]) -> None:
        if not connection_ids:
            return
        self._conn.execute("DELETE FROM connections WHERE id = ANY(%s)", (list(connection_ids),))
        _mark_abandoned(self._conn, self._decision_set_id, None)
        logger.info(
            "%d subscriber(s) of %s went away; stream marked abandoned",
            len(connection_ids),
            self._decision_set_id,
        )


def _mark_abandoned(
    conn: psycopg.Connection[Any], decision_set_id: str, job_id: str | None
) -> None:
    if job_id is not None:
        conn.execute("UPDATE jobs SET stream_abandoned = true WHERE id = %s", (job_id,))
        return
    conn.execute(
        "UPDATE jobs SET stream_abandoned = true WHERE id = (SELECT id FROM jobs"
        " WHERE decision_set_id = %s ORDER BY started_at DESC, id DESC LIMIT 1)",
        (decision_set_id,),
    )


class PostgresStore(PlatformStore):
    """:class:`~agentic_mlops.persistence.interfaces.PlatformStore` on PostgreSQL through a
    psycopg connection pool."""

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
        """The connection pool (shared with LangGraph's saver)."""
        return self._pool

    # projects -----------------------------------------------------------------------------

    def get_or_create_project(self, name: str) -> Project:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO projects (id, name) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                (new_id("prj"), name),
            )
            row = conn.execute("SELECT * FROM projects WHERE name = %s", (name,)).fetchone()
        return Project.model_validate(row)

    def create_project(self, name: str) -> tuple[Project, bool]:
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
        with self._pool.connection() as conn:
            row = conn.execute("SELECT * FROM projects WHERE id = %s", (project_id,)).fetchone()
        if row is None:
            raise NotFound(f"no project with id {project_id!r}")
        return Project.model_validate(row)

    def list_projects(self, project_ids: Sequence[str] | None = None) -> list[Project]:
        query, params = "SELECT * FROM projects", ()
        if project_ids is not None:
            query, params = query + " WHERE id = ANY(%s)", (list(project_ids),)
        with self._pool.connection() as conn:
            rows = conn.execute(query + " ORDER BY name", params).fetchall()
        return [Project.model_validate(r) for r in rows]

    # decision sets --------------------------------------------------------------------------

    def create_decision_set(
        self,
        project_id: str,
        request: str,
        parent_id: str | None = None,
        state: dict[str, Any] | None = None,
        decision_set_id: str | None = None,
    ) -> DecisionSet:
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO decision_sets (id, project_id, parent_id, request, status, state)"
                f" VALUES (%s, %s, %s, %s, 'created', %s) RETURNING {_DS_COLUMNS}",
                (
                    decision_set_id or new_id("ds"),
                    project_id,
                    parent_id,
                    request,
                    Jsonb(state or {}),
                ),
            ).fetchone()
        return DecisionSet.model_validate(row)

    def get_decision_set(self, decision_set_id: str) -> DecisionSet:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_DS_COLUMNS} FROM decision_sets WHERE id = %s", (decision_set_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return DecisionSet.model_validate(row)

    def read_decision_set(self, decision_set_id: str) -> DecisionSetRecord:
        with self._pool.connection() as conn:
            row = conn.execute(
                _READ_SQL.format(state="d.state") + " WHERE d.id = %s", (decision_set_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return _record(row)

    def decision_set_state(self, decision_set_id: str) -> dict[str, Any]:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT state FROM decision_sets WHERE id = %s", (decision_set_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return dict(row["state"] or {})

    def list_decision_sets(
        self,
        project_id: str | None = None,
        *,
        parent_id: str | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[DecisionSetRecord]:
        conditions, params = [], []
        if project_id is not None:
            conditions.append("d.project_id = %s")
            params.append(project_id)
        if parent_id is not None:
            conditions.append("d.parent_id = %s")
            params.append(parent_id)
        if before is not None:
            conditions.append(
                "(d.created_at, d.id) < (SELECT created_at, id FROM decision_sets WHERE id = %s)"
            )
            params.append(before)
        query = _READ_SQL.format(state=_SUMMARY_STATE)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY d.created_at DESC, d.id DESC"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        with self._pool.connection() as conn:
            rows = conn.execute(query, params).fetchall()
        return [_record(r) for r in rows]

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
                " updated_at = now() WHERE id = %s AND version = %s"
                f" RETURNING {_DS_COLUMNS}",
                (*values, decision_set_id, current.version),
            ).fetchone()
        if row is None:
            raise VersionConflict(f"decision set {decision_set_id} changed concurrently")
        return DecisionSet.model_validate(row)

    def set_status(self, decision_set_id: str, status: str) -> DecisionSet:
        return self.update_decision_set(
            decision_set_id, lambda ds: {} if ds.status == status else {"status": status}
        )

    def unsettled_decision_sets(self) -> list[DecisionSet]:
        columns = ", ".join(f"d.{c.strip()}" for c in _DS_COLUMNS.split(","))
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM decision_sets d WHERE d.status = ANY(%s)"
                " OR (d.status = ANY(%s) AND (SELECT status FROM approvals"
                "     WHERE decision_set_id = d.id ORDER BY created_at DESC, id DESC LIMIT 1)"
                "     = 'decided')"
                " ORDER BY d.updated_at, d.id",
                (list(_UNSETTLED), list(_PAUSED)),
            ).fetchall()
        return [DecisionSet.model_validate(r) for r in rows]

    # events ---------------------------------------------------------------------------------

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
        """Insert events (and, with ``run``, the node run and its output in the read model)
        in one atomic statement."""
        state_update = run.output if run is not None and run.status == "succeeded" else None
        params = _event_params(decision_set_id, events, state_update)
        sql = "WITH " + _INSERT_EVENTS_SQL
        if run is not None:
            sql = f"WITH run AS ({_UPSERT_RUN_SQL}), " + _INSERT_EVENTS_SQL
            params |= _run_params(run)
        rows = conn.execute(sql, params).fetchall()
        if events and not rows and not _decision_set_exists(conn, decision_set_id):
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

    def get_event(self, decision_set_id: str, seq: int) -> Event:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT * FROM events WHERE decision_set_id = %s AND seq = %s",
                (decision_set_id, seq),
            ).fetchone()
        if row is None:
            raise NotFound(f"decision set {decision_set_id} has no event {seq}")
        return Event.model_validate(row)

    def steps_without_checkpoint(self, decision_set_id: str) -> list[int]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT step FROM events WHERE decision_set_id = %s"
                " AND checkpoint_id IS NULL AND step IS NOT NULL ORDER BY step",
                (decision_set_id,),
            ).fetchall()
        return [r["step"] for r in rows]

    def link_checkpoint(self, decision_set_id: str, step: int, checkpoint_id: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE events SET checkpoint_id = %s WHERE decision_set_id = %s"
                " AND step = %s AND checkpoint_id IS NULL",
                (checkpoint_id, decision_set_id, step),
            )

    # node runs ------------------------------------------------------------------------------

    def succeeded_output(self, key: str) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT output FROM agent_runs WHERE key = %s AND status = 'succeeded'", (key,)
            ).fetchone()
        return None if row is None else row["output"]

    def complete_run(self, run: AgentRun, events: Sequence[NewEvent]) -> list[Event]:
        # One statement: one round trip, and atomic even on an autocommit connection.
        with self._pool.connection() as conn:
            stored = self._insert_events(conn, run.decision_set_id, events, run=run)
        return self._published(run.decision_set_id, stored)

    def list_runs(self, decision_set_id: str) -> list[AgentRun]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT * FROM agent_runs WHERE decision_set_id = %s ORDER BY created_at, key",
                (decision_set_id,),
            ).fetchall()
        return [AgentRun.model_validate(r) for r in rows]

    # jobs and leases --------------------------------------------------------------------------

    def start_job(self, decision_set_id: str, engine: str, action: str) -> str:
        job_id = new_id("job")
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO jobs (id, decision_set_id, engine, action, status)"
                " VALUES (%s, %s, %s, %s, 'running')",
                (job_id, decision_set_id, engine, action),
            )
        return job_id

    def finish_job(self, job_id: str, status: str, error: str | None = None) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE jobs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
                (status, error, job_id),
            )

    def mark_stream_abandoned(self, decision_set_id: str, job_id: str | None = None) -> None:
        with self._pool.connection() as conn:
            _mark_abandoned(conn, decision_set_id, job_id)

    def latest_job(self, decision_set_id: str) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            return conn.execute(
                "SELECT id, engine, action, status, stream_abandoned, error, started_at,"
                " finished_at FROM jobs WHERE decision_set_id = %s"
                " ORDER BY started_at DESC, id DESC LIMIT 1",
                (decision_set_id,),
            ).fetchone()

    @contextmanager
    def run_lease(self, decision_set_id: str) -> Iterator[bool]:
        # A session-level advisory lock on a connection held for the whole run: a process
        # that dies loses its connection, and the database releases the lock at once.
        with self._pool.connection() as conn:
            held = conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS held",
                (_LEASE_CLASS, decision_set_id),
            ).fetchone()["held"]
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                conn.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LEASE_CLASS, decision_set_id)
                )

    def run_is_live(self, decision_set_id: str) -> bool:
        with self.run_lease(decision_set_id) as free:
            return not free

    # waits ----------------------------------------------------------------------------------

    def open_wait(
        self,
        decision_set_id: str,
        kind: str,
        wait_key: str,
        request: dict[str, Any],
        task_token: str | None = None,
    ) -> Wait:
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

    def find_wait(self, decision_set_id: str, wait_key: str) -> Wait | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_WAIT_COLUMNS} FROM approvals"
                " WHERE decision_set_id = %s AND wait_key = %s",
                (decision_set_id, wait_key),
            ).fetchone()
        return None if row is None else Wait.model_validate(row)

    def expire_waits(self, decision_set_id: str) -> int:
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE approvals SET status = 'expired', decided_at = now()"
                " WHERE decision_set_id = %s AND status = 'pending'",
                (decision_set_id,),
            )
            return cursor.rowcount

    def attach_task_token(self, wait_id: str, task_token: str) -> None:
        # Also on a decided wait: a decision recorded before the execution reached the
        # wait is applied when its token arrives (see claim_resume).
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE approvals SET task_token = %s WHERE id = %s AND resumed_at IS NULL"
                " AND status <> 'expired'",
                (task_token, wait_id),
            )

    def task_token(self, wait_id: str) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT task_token FROM approvals WHERE id = %s", (wait_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no wait with id {wait_id!r}")
        return row["task_token"]

    def claim_resume(self, wait_id: str) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE approvals SET resumed_at = now() WHERE id = %s AND status = 'decided'"
                " AND task_token IS NOT NULL AND resumed_at IS NULL RETURNING task_token",
                (wait_id,),
            ).fetchone()
        return None if row is None else row["task_token"]

    def latest_wait(self, decision_set_id: str, kind: str | None = None) -> Wait | None:
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
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_WAIT_COLUMNS} FROM approvals WHERE id = %s", (wait_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no approval or question with id {wait_id!r}")
        return Wait.model_validate(row)

    def pending_approvals(self, project_ids: Sequence[str] | None = None) -> list[PendingApproval]:
        ds_columns = ", ".join(f"d.{c.strip()}" for c in _DS_COLUMNS.split(","))
        wait_columns = ", ".join(f"a.{c} AS w_{c}" for c in _WAIT_FIELDS)
        query = (
            f"SELECT {ds_columns}, {wait_columns}, p.name AS project_name FROM approvals a"
            " JOIN decision_sets d ON d.id = a.decision_set_id"
            " JOIN projects p ON p.id = d.project_id"
            " WHERE a.kind = 'approval' AND a.status = 'pending'"
        )
        params: list[Any] = []
        if project_ids is not None:
            query += " AND d.project_id = ANY(%s)"
            params.append(list(project_ids))
        with self._pool.connection() as conn:
            rows = conn.execute(query + " ORDER BY a.created_at, a.id", params).fetchall()
        return [
            PendingApproval(
                wait=Wait.model_validate({c: r[f"w_{c}"] for c in _WAIT_FIELDS}),
                decision_set=DecisionSet.model_validate(r),
                project_name=r["project_name"],
            )
            for r in rows
        ]

    def claim_notification(self, wait_id: str, channel: str) -> bool:
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE approvals SET notifications = notifications || %s"
                " WHERE id = %s AND NOT notifications ? %s",
                (Jsonb({channel: {"status": "claimed"}}), wait_id, channel),
            )
            return cursor.rowcount == 1

    def release_notification(self, wait_id: str, channel: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE approvals SET notifications = notifications - %s WHERE id = %s",
                (channel, wait_id),
            )

    def record_notification(self, wait_id: str, channel: str, details: dict[str, Any]) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE approvals SET notifications = notifications || %s WHERE id = %s",
                (Jsonb({channel: details}), wait_id),
            )

    # connections ------------------------------------------------------------------------------

    def connect(self, connection_id: str, user: str, grants: Sequence[str], endpoint: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO connections (id, user_name, grants, endpoint)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " user_name = EXCLUDED.user_name, grants = EXCLUDED.grants,"
                " endpoint = EXCLUDED.endpoint",
                (connection_id, user, Jsonb(list(grants)), endpoint),
            )

    def disconnect(self, connection_id: str) -> None:
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM connections WHERE id = %s", (connection_id,))

    def connection(self, connection_id: str) -> Connection | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT id, user_name, grants, endpoint FROM connections WHERE id = %s",
                (connection_id,),
            ).fetchone()
        if row is None:
            return None
        return Connection(
            id=row["id"],
            user=row["user_name"],
            grants=list(row["grants"]),
            endpoint=row["endpoint"],
        )

    def take_message_token(self, connection_id: str, *, rate: float, burst: float) -> bool:
        refilled = "LEAST(%(burst)s, tokens + EXTRACT(EPOCH FROM now() - refilled_at) * %(rate)s)"
        with self._pool.connection() as conn:
            row = conn.execute(
                f"UPDATE connections SET tokens = {refilled} - 1, refilled_at = now()"
                f" WHERE id = %(id)s AND {refilled} >= 1 RETURNING tokens",
                {"id": connection_id, "rate": rate, "burst": burst},
            ).fetchone()
        return row is not None

    def subscribe(self, connection_id: str, decision_set_id: str, since: int | None) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO subscriptions (connection_id, decision_set_id, delivered_seq)"
                " VALUES (%(c)s, %(ds)s, coalesce(%(since)s, 0))"
                " ON CONFLICT (connection_id, decision_set_id) DO UPDATE SET"
                " delivered_seq = coalesce(%(since)s, subscriptions.delivered_seq),"
                " subscribed_at = now() RETURNING delivered_seq",
                {"c": connection_id, "ds": decision_set_id, "since": since},
            ).fetchone()
        return int(row["delivered_seq"])

    def unsubscribe(self, connection_id: str, decision_set_id: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM subscriptions WHERE connection_id = %s AND decision_set_id = %s",
                (connection_id, decision_set_id),
            )

    @contextmanager
    def deliveries(self, decision_set_id: str) -> Iterator[_Deliveries]:
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT s.connection_id, s.delivered_seq, c.endpoint FROM subscriptions s"
                " JOIN connections c ON c.id = s.connection_id"
                " WHERE s.decision_set_id = %s ORDER BY s.connection_id FOR UPDATE OF s",
                (decision_set_id,),
            ).fetchall()
            yield _Deliveries(conn, decision_set_id, [Subscriber.model_validate(r) for r in rows])
