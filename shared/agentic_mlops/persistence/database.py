"""Connections to PostgreSQL: ``DATABASE_URL`` when set, otherwise an embedded server.

Connections are built for poolers such as RDS Proxy: autocommit, ``dict_row`` rows and
no server-side prepared statements (``prepare_threshold=None``), which PostgresSaver
also accepts.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_mlops.errors import PlatformError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

HOME_ENV = "AGENTIC_MLOPS_HOME"
PGDATA_ENV = "AGENTIC_MLOPS_PGDATA"


class DatabaseUnavailable(PlatformError):
    """The database could not be reached or started."""


def platform_home(env: Mapping[str, str] | None = None) -> Path:
    """Return the folder for local state (``$AGENTIC_MLOPS_HOME``, default ``~/.agentic-mlops``)."""
    env = os.environ if env is None else env
    return Path(env.get(HOME_ENV) or Path.home() / ".agentic-mlops").expanduser()


def embedded_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the embedded PostgreSQL data directory (``$AGENTIC_MLOPS_PGDATA`` wins)."""
    env = os.environ if env is None else env
    explicit = env.get(PGDATA_ENV)
    return Path(explicit).expanduser() if explicit else platform_home(env) / "pgdata"


def resolve_database_url(env: Mapping[str, str] | None = None) -> str:
    """Return ``DATABASE_URL``, or start the embedded server and return its URL.

    The embedded server keeps its data between runs in :func:`embedded_data_dir` and is
    stopped when the last process using it exits.

    Raises:
        DatabaseUnavailable: if the embedded server cannot start.
    """
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL")
    if url:
        return url
    return start_embedded(embedded_data_dir(env))


def start_embedded(data_dir: Path, cleanup_mode: str | None = "stop") -> str:
    """Start (or join) the embedded PostgreSQL server for ``data_dir`` and return its URL."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import pgserver

            server = pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)
        return server.get_uri()
    except Exception as exc:  # pgserver raises plain exceptions on start failures
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc}"
        ) from exc


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
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc


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
