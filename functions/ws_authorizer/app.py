"""The WebSocket $connect authorizer: verifies the Cognito token of the query string."""

from __future__ import annotations

from typing import Any

from agentic_mlops.observability import lambda_entry


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: one call into the library (imported on first use: cold start)."""
    from agentic_mlops.api.ws_authorizer import handle

    return handle(event)
