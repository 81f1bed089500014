"""Persistence: PostgreSQL connections, migrations, the platform store and the checkpointer.

Every name is imported from its module on first use (PEP 562): a process that only reads
its settings (``persistence.config``) never loads psycopg, the store or LangGraph.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentic_mlops.persistence.database import (
        Database,
        DatabaseUnavailable,
        connect_database,
        open_database,
    )
    from agentic_mlops.persistence.interfaces import NodeStore, PlatformStore
    from agentic_mlops.persistence.store import PostgresStore

_EXPORTS = {
    "Database": "agentic_mlops.persistence.database",
    "DatabaseUnavailable": "agentic_mlops.persistence.database",
    "NodeStore": "agentic_mlops.persistence.interfaces",
    "PlatformStore": "agentic_mlops.persistence.interfaces",
    "PostgresStore": "agentic_mlops.persistence.store",
    "connect_database": "agentic_mlops.persistence.database",
    "open_database": "agentic_mlops.persistence.database",
}

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "NodeStore",
    "PlatformStore",
    "PostgresStore",
    "connect_database",
    "open_database",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
