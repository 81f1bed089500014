"""Validates a generated repository stored in S3 (the validator container image).

Runs with no database route, no secrets and a role that reads ``sources/`` and writes
``reports/`` only; the generated code never runs anywhere else in AWS.
"""

from __future__ import annotations

from typing import Any

from agentic_mlops.observability import lambda_entry


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: one call into the library (imported on first use: cold start)."""
    from agentic_mlops.jobs import validate

    return validate(event)
