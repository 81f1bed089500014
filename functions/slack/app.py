"""Answers Slack's interactivity callback (API Gateway proxy: POST /slack/interactions)."""

from __future__ import annotations

from typing import Any

from agentic_mlops.observability import lambda_entry


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: one call into the library (imported on first use: cold start)."""
    from agentic_mlops.slack import handle_function_event

    return handle_function_event(event)
