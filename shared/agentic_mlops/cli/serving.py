"""``serve`` and ``dev-token``: the local API server and its development credentials."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentic_mlops.errors import InvalidInput

EXIT_OK = 0


def add_commands(sub: Any) -> None:
    """Register the commands on the CLI's subparsers."""
    serve = sub.add_parser(
        "serve",
        help="run the REST and WebSocket APIs locally (emulating API Gateway)",
        description="Serve REST at http://HOST:PORT/, WebSocket at ws://HOST:PORT/ws and"
        " the @connections API, running the configured engine. Ctrl-C stops it.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port (0: any free port)")

    token = sub.add_parser(
        "dev-token",
        help="issue a signed development token for the local API",
        description="Print a bearer token for `serve` (REST: Authorization: Bearer TOKEN;"
        " WebSocket: ?token=TOKEN). Without --project the roles hold on every project.",
    )
    token.add_argument("--user", required=True, help="who the token identifies")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["requester", "approver"],
        help="role (repeatable)",
    )
    token.add_argument("--project", help="the project id the roles hold on (default: all)")
    token.add_argument(
        "--ttl-hours", type=float, default=12.0, help="validity in hours (default 12)"
    )


def cmd_serve(args: argparse.Namespace, console: Any) -> int:
    """Run the local server until Ctrl-C (or SIGTERM)."""
    if not 0 <= args.port <= 65535:
        raise InvalidInput(f"--port must be between 0 and 65535, got {args.port}")
    from agentic_mlops.composition import secret_values
    from agentic_mlops.local.server import serve
    from agentic_mlops.observability import configure_logging
    from agentic_mlops.settings import load_settings

    settings = load_settings()
    configure_logging(settings.logging.level, stream=sys.stdout, secrets=secret_values(settings))
    try:
        serve(
            settings,
            args.host,
            args.port,
            lambda line: console.print(line, highlight=False, soft_wrap=True),
        )
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    return EXIT_OK


def cmd_dev_token(args: argparse.Namespace, console: Any) -> int:
    """Print a development token on stdout."""
    from agentic_mlops.api.auth import issue_dev_token
    from agentic_mlops.composition import dev_token_secret
    from agentic_mlops.service.inputs import clean_id, clean_user
    from agentic_mlops.settings import load_settings

    user = clean_user(args.user)
    if not 0 < args.ttl_hours <= 24 * 30:
        raise InvalidInput("--ttl-hours must be between 0 and 720")
    project = (args.project or "").strip() or None
    if project is not None:
        clean_id(project, "--project")
    secret = dev_token_secret(load_settings(("local", "auth")))
    token = issue_dev_token(
        user, args.role, project, secret=secret, ttl_s=int(args.ttl_hours * 3600)
    )
    sys.stdout.write(token + "\n")
    return EXIT_OK
