"""Connections to PostgreSQL: the configured server, or an embedded one.

Connections are built for poolers such as RDS Proxy: autocommit, ``dict_row`` rows and
no server-side prepared statements (``prepare_threshold=None``), which PostgresSaver
also accepts. In AWS the credentials come from the Secrets Manager secret RDS generates
(``AGENTIC_MLOPS_DB_SECRET_ARN``) and the host is the proxy's endpoint.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_mlops.errors import PlatformError

if TYPE_CHECKING:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.serde.base import SerializerProtocol
    from psycopg_pool import ConnectionPool

    from agentic_mlops.persistence.config import DatabaseSettings
    from agentic_mlops.persistence.store import PostgresStore

logger = logging.getLogger(__name__)

SECRET_MAX_AGE_S = 300


class DatabaseUnavailable(PlatformError):
    """The database could not be reached or started."""

    code = "database_unavailable"


def embedded_data_dir(settings: DatabaseSettings, home: Path) -> Path:
    """The embedded PostgreSQL data directory (``AGENTIC_MLOPS_PGDATA`` wins)."""
    return (settings.pgdata or home / "pgdata").expanduser()


def resolve_database_url(settings: DatabaseSettings, home: Path) -> str:
    """The URL to connect to: ``DATABASE_URL``, the Secrets Manager secret, or the
    embedded server (started if needed; it keeps its data between runs and stops when the
    last process using it exits).

    Raises:
        DatabaseUnavailable: the embedded server cannot start, or the secret is unusable.
    """
    if settings.url is not None:
        return settings.url.get_secret_value()
    if settings.secret_arn is not None:
        return url_from_secret(settings.secret_arn, host=settings.host)
    return start_embedded(embedded_data_dir(settings, home))


def url_from_secret(secret_arn: str, *, host: str | None = None) -> str:
    """A connection URL from an RDS-style JSON secret (username, password, host, port,
    dbname), read with Powertools Parameters (cached); ``host`` overrides the secret's
    (the RDS Proxy endpoint). TLS is required.

    Raises:
        DatabaseUnavailable: the secret is not such a JSON object.
    """
    from aws_lambda_powertools.utilities import parameters
    from psycopg.conninfo import make_conninfo

    raw = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_S)
    try:
        secret = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        return make_conninfo(
            host=host or secret["host"],
            port=int(secret.get("port", 5432)),
            dbname=secret.get("dbname") or "postgres",
            user=secret["username"],
            password=secret["password"],
            sslmode="require",
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DatabaseUnavailable(
            "the database secret is not an RDS JSON secret (username, password, host)"
        ) from exc


def start_embedded(data_dir: Path, cleanup_mode: str | None = "stop") -> str:
    """Start (or join) the embedded PostgreSQL server for ``data_dir`` and return its URL.

    Processes that died without stopping (``kill -9``) are first removed from the
    server's list of users, so that the last live process still stops it.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import pgserver

            forget_dead_users(data_dir)
            server = pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)
        return server.get_uri()
    except Exception as exc:  # pgserver raises plain exceptions on start failures
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc}"
        ) from exc


def forget_dead_users(data_dir: Path) -> list[int]:
    """Drop the pids of dead processes from the embedded server's handle file; return them.

    Done under pgserver's own inter-process lock, so a process joining at the same time
    is not lost.
    """
    import psutil
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    handle = DiskList(data_dir / ".handle_pids.json")
    with PostgresServer._lock:
        pids = handle.get()
        dead = [pid for pid in pids if not psutil.pid_exists(pid)]
        if dead:
            handle.put([pid for pid in pids if pid not in dead])
            logger.info("embedded PostgreSQL: forgot %d dead process(es) %s", len(dead), dead)
    return dead


CONNECTION_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}


def connect(url: str) -> psycopg.Connection[dict[str, Any]]:
    """Open one pooler-safe connection.

    Raises:
        DatabaseUnavailable: if the server cannot be reached.
    """
    import psycopg
    from psycopg.rows import dict_row

    try:
        return psycopg.connect(url, row_factory=dict_row, **CONNECTION_KWARGS)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {_redact(url)}") from exc


def create_pool(url: str, *, min_size: int = 1, max_size: int = 8) -> ConnectionPool:
    """Open a pooler-safe connection pool (shared by the platform store and the saver).

    Raises:
        DatabaseUnavailable: if the server cannot be reached.
    """
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool, PoolTimeout

    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, **CONNECTION_KWARGS},
        open=False,
    )
    try:
        pool.open(wait=True, timeout=15)
    except PoolTimeout as exc:
        pool.close()
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {_redact(url)}") from exc
    return pool


def _redact(url: str) -> str:
    """Hide the password of a connection URL."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # an unparsable URL is shown without any detail
        return "<unparsable url>"
    if parts.get("password"):
        parts["password"] = "***"
    return make_conninfo(**parts)


# the open database -------------------------------------------------------------------


@dataclass
class Database:
    """An open database: the pool, the platform store and LangGraph's saver on one pool.

    The saver is created on first use (only the processes that run nodes need LangGraph).
    """

    pool: ConnectionPool
    store: PostgresStore
    serde: SerializerProtocol | None = field(default=None, repr=False)
    _checkpointer: Any = field(default=None, repr=False)

    @property
    def checkpointer(self) -> PostgresSaver:
        """LangGraph's Postgres saver on this pool (checkpoints encrypted with ``serde``)."""
        if self._checkpointer is None:
            from langgraph.checkpoint.postgres import PostgresSaver

            self._checkpointer = PostgresSaver(self.pool, serde=self.serde)  # type: ignore[arg-type]
        return self._checkpointer

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_database(
    url: str, *, max_size: int = 2, serde: SerializerProtocol | None = None
) -> Database:
    """Connect without checking or migrating the schema (the migration step itself).

    Raises:
        DatabaseUnavailable: if PostgreSQL cannot be reached.
    """
    from agentic_mlops.persistence.store import PostgresStore

    pool = create_pool(url, max_size=max_size)
    return Database(pool=pool, store=PostgresStore(pool), serde=serde)


def open_database(
    url: str,
    *,
    max_size: int = 8,
    migrate: bool = False,
    serde: SerializerProtocol | None = None,
) -> Database:
    """Connect, then migrate (``migrate``) or check that the schema is current.

    Args:
        url: the PostgreSQL URL (see :func:`~agentic_mlops.persistence.database.
            resolve_database_url`).
        max_size: the pool's maximum number of connections.
        migrate: apply pending migrations (the CLI, ``serve`` and the deploy-time migration
            function); otherwise a schema that is behind is refused.
        serde: the checkpoint serializer (encryption at rest).

    Raises:
        DatabaseUnavailable: if PostgreSQL cannot be reached.
        SchemaBehind: the schema is older than this code and ``migrate`` is off.
    """
    from agentic_mlops.persistence.migrations import check_schema, migrate_database

    database = connect_database(url, max_size=max_size, serde=serde)
    pool = database.pool
    try:
        if migrate:
            migrate_database(database)
        else:
            with pool.connection() as conn:
                check_schema(conn)
    except Exception:
        pool.close()
        raise
    return database
