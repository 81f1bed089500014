"""Structured JSON logs for every process (CLI, ``serve``, the Lambda functions).

Every line is a JSON object (Powertools' formatter) carrying ``request_id``, ``run_id``
(the engine execution or job), ``thread_id`` (the decision set) and ``node_name`` — null
where a line belongs to none. The keys come from :func:`log_context`, a context variable,
so concurrent requests and runs in one process never mix them up. Configured secrets are
replaced by ``***`` in every line, whatever logged them.

LangSmith tracing is switched on purely by LangSmith's own environment variables
(``LANGSMITH_TRACING=true``, ``LANGSMITH_API_KEY``, ``LANGSMITH_ENDPOINT``...): LangGraph
traces every run then, and nothing here needs to know.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

CORRELATION_KEYS = ("request_id", "run_id", "thread_id", "node_name")
SERVICE = "agentic-mlops"
_CONTEXT: ContextVar[dict[str, str]] = ContextVar("agentic_mlops_log_context", default={})  # noqa: B039
_HANDLER_NAME = "agentic-mlops-json"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@contextmanager
def log_context(**keys: str | None) -> Iterator[None]:
    """Add correlation keys to every log line written inside the block (this context only)."""
    current = _CONTEXT.get()
    token = _CONTEXT.set({**current, **{k: str(v) for k, v in keys.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> dict[str, str]:
    """The correlation keys in effect here."""
    return dict(_CONTEXT.get())


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        for key in CORRELATION_KEYS:
            if getattr(record, key, None) is None:
                setattr(record, key, context.get(key))
        return True


def _formatter(secrets: Iterable[str]) -> logging.Formatter:
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    hidden = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    class JsonLines(LambdaPowertoolsFormatter):
        """Powertools' JSON lines, keeping null correlation keys, with secrets hidden."""

        def _strip_none_records(self, records: dict[str, Any]) -> dict[str, Any]:
            kept = super()._strip_none_records(records=records)
            for key in CORRELATION_KEYS:
                kept.setdefault(key, None)
            return kept

        def serialize(self, log: dict[str, Any]) -> str:
            line = super().serialize(log)
            for secret in hidden:
                line = line.replace(secret, "***")
            return line

    return JsonLines(service=SERVICE)


def configure_logging(
    level: str = "WARNING",
    *,
    stream: IO[str] | None = None,
    secrets: Iterable[str] = (),
    replace_all: bool = False,
) -> None:
    """Send every log line of this process as JSON to ``stream`` (default stderr).

    Calling it again replaces the platform's handler (level, stream, secrets);
    ``replace_all`` also removes the Lambda runtime's own plain-text handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        lambda_runtime = type(handler).__name__ == "LambdaLoggerHandler"
        if handler.get_name() == _HANDLER_NAME or (replace_all and lambda_runtime):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_formatter(secrets))
    handler.addFilter(_CorrelationFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that are chatty at INFO; their warnings still come through.
    for name in ("httpx", "httpcore", "botocore", "urllib3", "aiohttp.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def stop_logging() -> None:
    """Remove the platform's handler (the CLI, before it closes its log file)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)


def lambda_entry(handler: Handler) -> Handler:
    """Wrap a Lambda function's handler: its correlation keys on every log line (from the
    Lambda context and the event) and a trace segment (without the response, which may
    hold plan data). Logging is configured on the first invocation."""
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=SERVICE)

    @functools.wraps(handler)
    def with_correlation(event: dict[str, Any], context: Any) -> dict[str, Any]:
        keys = {
            "request_id": getattr(context, "aws_request_id", None),
            "run_id": event.get("execution_id") if isinstance(event, dict) else None,
            "thread_id": event.get("decision_set_id") if isinstance(event, dict) else None,
            "node_name": event.get("node") if isinstance(event, dict) else None,
        }
        with log_context(**keys):
            return handler(event, context)

    return tracer.capture_lambda_handler(capture_response=False)(with_correlation)
