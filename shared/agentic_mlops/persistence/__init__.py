"""Persistence: PostgreSQL connections, migrations, the platform store and the checkpointer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agentic_mlops.persistence.database import (
    DatabaseUnavailable,
    create_pool,
    resolve_database_url,
)
from agentic_mlops.persistence.migrations import migrate
from agentic_mlops.persistence.store import PlatformStore, PostgresStore

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg_pool import ConnectionPool

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "PlatformStore",
    "PostgresStore",
    "open_database",
]


@dataclass
class Database:
    """An open database: the pool, the platform store and LangGraph's saver on one pool."""

    pool: ConnectionPool
    store: PostgresStore
    checkpointer: PostgresSaver = field(repr=False)

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_database(url: str | None = None, *, max_size: int = 8) -> Database:
    """Connect (starting the embedded server if needed), migrate, and set up the saver.

    Args:
        url: a PostgreSQL URL; defaults to ``DATABASE_URL`` or the embedded server.
        max_size: the pool's maximum number of connections.

    Raises:
        DatabaseUnavailable: if PostgreSQL cannot be reached or started.
    """
    from langgraph.checkpoint.postgres import PostgresSaver

    pool = create_pool(url or resolve_database_url(), max_size=max_size)
    try:
        with pool.connection() as conn:
            migrate(conn)
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
    except Exception:
        pool.close()
        raise
    return Database(pool=pool, store=PostgresStore(pool), checkpointer=saver)
