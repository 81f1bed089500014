"""Applies the schema migrations once per deploy (invoked by the data stack's CDK trigger).

No other function migrates: they answer a clear error while the schema is behind.
"""

from __future__ import annotations

from typing import Any

from agentic_mlops.observability import lambda_entry


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: one call into the library (imported on first use: cold start)."""
    from agentic_mlops.jobs import migrate

    return migrate(event)
