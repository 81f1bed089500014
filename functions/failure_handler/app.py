"""Records a failure caught by the state machine and emits run-complete."""

from __future__ import annotations

from typing import Any

from agentic_mlops.observability import lambda_entry


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: one call into the library (imported on first use: cold start)."""
    from agentic_mlops.tasks import handle_failure

    return handle_failure(event)
