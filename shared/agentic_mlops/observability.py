"""Observability singletons for the Lambda functions (Powertools Logger and Tracer).

Every log line of a workflow function carries ``request_id``, ``run_id`` (the execution),
``thread_id`` (the decision set) and ``node_name``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Tracer

logger = Logger(service="agentic-mlops")
tracer = Tracer(service="agentic-mlops")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_entry(handler: Handler) -> Handler:
    """Wrap a workflow function's handler: Lambda context and correlation keys in the logs,
    a trace segment (without the response, which may hold plan data)."""

    @functools.wraps(handler)
    def with_correlation(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.append_keys(
            request_id=getattr(context, "aws_request_id", None),
            run_id=event.get("execution_id"),
            thread_id=event.get("decision_set_id"),
            node_name=event.get("node"),
        )
        return handler(event, context)

    traced = tracer.capture_lambda_handler(capture_response=False)(with_correlation)
    return logger.inject_lambda_context(clear_state=True)(traced)
