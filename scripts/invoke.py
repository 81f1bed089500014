"""Invoke one workflow Lambda function locally, in the spirit of ``sam local invoke``.

Usage: scripts/invoke FUNCTION EVENT_JSON [--set key=value ...]

Loads ``functions/FUNCTION/app.py`` by path (as the Lambda runtime does: no package
import), builds a Lambda-like context, calls ``handler(event, context)`` once and prints
its JSON result on stdout. ``--set key=value`` overrides (or adds) a top-level key of the
event; the value is a string, except a JSON object, array, ``null``, ``true`` or ``false``
(``--set execution_id=null``, ``--set error='{"Error": "X", "Cause": "y"}'``).

The function works on ``DATABASE_URL``; when it is unset, the embedded PostgreSQL of the
CLI is started (or joined) and its URL exported for the function. Logs go to stderr.

Exit codes: 0 the handler returned; 1 the handler raised (``ErrorType: message`` on
stderr, the Lambda runtime's ``errorType``); 2 unknown function, unreadable event or bad
arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
REGION = "us-east-1"
ACCOUNT = "123456789012"
MEMORY_MB = 512
TIMEOUT_S = 60.0
_JSON_VALUES = {"null", "true", "false"}


class UsageError(Exception):
    """Bad arguments, an unknown function or an unreadable event (exit code 2)."""


@dataclass
class LambdaContext:
    """The attributes of the Python Lambda runtime's context that handlers commonly use."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = MEMORY_MB
    timeout_s: float = TIMEOUT_S
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_s - elapsed) * 1000))


def function_names() -> list[str]:
    """The functions that have a handler file."""
    return sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))


def handler_path(function: str) -> Path:
    """``functions/FUNCTION/app.py``; UsageError when there is no such function."""
    path = FUNCTIONS / function / "app.py"
    if function not in function_names() or not path.is_file():
        known = ", ".join(function_names()) or "none"
        raise UsageError(
            f"no function {function!r} (no functions/{function}/app.py); known: {known}"
        )
    return path


def load_handler(function: str) -> Callable[[dict[str, Any], Any], Any]:
    """Load the function's ``app.py`` by path under a module name unique to the function."""
    path = handler_path(function)
    module_spec = importlib.util.spec_from_file_location(f"functions_{function}_app", path)
    if module_spec is None or module_spec.loader is None:
        raise UsageError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    handler = getattr(module, "handler", None)
    if not callable(handler):
        raise UsageError(f"functions/{function}/app.py has no handler(event, context)")
    return handler


def read_event(path: str) -> dict[str, Any]:
    """The event file as a JSON object; UsageError when missing or not a JSON object."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"event file {path} is not valid JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise UsageError(f"event file {path} must hold a JSON object")
    return event


def apply_overrides(event: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Return the event with each ``key=value`` set at its top level."""
    event = dict(event)
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {assignment!r}")
        event[key] = _parse_value(value)
    return event


def _parse_value(value: str) -> Any:
    stripped = value.strip()
    if stripped in _JSON_VALUES or stripped[:1] in {"{", "["}:
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--set value {value!r} is not valid JSON: {exc}") from exc
    return value


def ensure_database_url() -> None:
    """Export DATABASE_URL (the embedded PostgreSQL of the CLI when unset, migrated as the
    CLI would: the functions only check the schema)."""
    if os.environ.get("DATABASE_URL"):
        return
    from agentic_mlops.persistence import open_database
    from agentic_mlops.persistence.database import resolve_database_url
    from agentic_mlops.settings import load_settings

    settings = load_settings(("local", "database"))
    url = resolve_database_url(settings.database, settings.home)
    open_database(url, max_size=1, migrate=True).close()
    os.environ["DATABASE_URL"] = url


def one_line(exc: BaseException) -> str:
    """``ErrorType: message`` on one line (the Lambda runtime's errorType and message)."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _fail(code: int, message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/invoke",
        description="Invoke a workflow Lambda function locally with a sample event.",
    )
    parser.add_argument("function", help=f"one of: {', '.join(function_names())}")
    parser.add_argument("event", help="JSON event file, e.g. events/node_runner/planner.json")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a top-level event key (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Invoke the function; print its JSON result. Returns the exit code."""
    args = parse_args(argv)
    result_stream = sys.stdout
    try:
        handler_path(args.function)
        event = apply_overrides(read_event(args.event), args.overrides)
    except UsageError as exc:
        _fail(2, f"invoke: {exc}")
    context = LambdaContext(
        function_name=args.function,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{args.function}",
    )
    # Everything the function prints or logs goes to stderr; stdout holds the result only.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            ensure_database_url()
        except Exception as exc:  # the database is the environment, not the function
            _fail(1, one_line(exc))
        try:
            handler = load_handler(args.function)
        except UsageError as exc:
            _fail(2, f"invoke: {exc}")
        except Exception as exc:  # what the Lambda runtime reports as an init error
            _fail(1, f"Runtime.ImportModuleError: {one_line(exc)}")
        try:
            result = handler(event, context)
        except Exception as exc:  # the Lambda runtime's unhandled-error payload, one line
            _fail(1, one_line(exc))
    try:
        text = json.dumps(result, indent=2)
    except (TypeError, ValueError) as exc:
        _fail(1, f"Runtime.MarshalError: {one_line(exc)}")
    print(text, file=result_stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
