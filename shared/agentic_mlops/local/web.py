"""The web app's routes in ``agentic-mlops serve`` (registered before the REST catch-all).

- ``/app/`` serves the built single-page app (``AGENTIC_MLOPS_WEB_DIR``, by default the
  build shipped in the package, ``agentic_mlops/local/web_dist``); a path under ``/app/``
  that is not a file answers ``index.html`` (the app's own routes), and ``/`` redirects
  there.
- ``/config.json`` (also ``/app/config.json``, beside the page) tells the page where the
  APIs are and how to sign in: the REST and WebSocket URLs (as the browser reached this
  server), and either the Cognito Hosted UI (domain, client id, redirect, scopes) or the
  development-token endpoint.
- ``/_local/dev-token`` (POST ``{"user", "roles"}``) issues a development token, only to
  a caller on the loopback interface and only in the ``dev`` auth mode; anywhere else it
  does not exist (404).
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from agentic_mlops.settings import Settings

SHIPPED = Path(__file__).resolve().parent / "web_dist"
"""The build shipped in the package (``npm run build`` in ``web/`` writes it)."""
PREFIX = "/app/"
DEV_TOKEN_PATH = "/_local/dev-token"
MAX_USER_CHARS = 120

NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Agentic MLOps: the web app is not built</title>
<p>The web app's files are missing from <code>{where}</code>. Build them with
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, or set AGENTIC_MLOPS_WEB_DIR.
The REST API answers at <a href="/openapi.json">/openapi.json</a>.</p></html>"""


def web_dir(settings: Settings) -> Path:
    """The folder of the built app."""
    return Path(settings.web.dir).expanduser() if settings.web.dir else SHIPPED


def is_loopback(remote: str | None) -> bool:
    """Whether the peer address is the loopback interface."""
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def site_config(settings: Settings, base_url: str) -> dict[str, Any]:
    """The page's ``config.json`` for a browser that reached the server at ``base_url``."""
    ws_base = "ws" + base_url.removeprefix("http")
    config: dict[str, Any] = {
        "apiUrl": base_url,
        "webSocketUrl": f"{ws_base}/ws",
        "auth": "dev" if settings.auth.mode == "dev" else "cognito",
    }
    if settings.auth.mode == "dev":
        config["devTokenUrl"] = f"{base_url}{DEV_TOKEN_PATH}"
    if settings.web.cognito_domain:
        config.update(
            auth="cognito",
            cognitoDomain=settings.web.cognito_domain.rstrip("/"),
            userPoolClientId=settings.cognito.user_pool_client_id,
            redirectUri=settings.web.redirect_uri or f"{base_url}{PREFIX}",
            scopes=settings.web.scopes,
        )
    return config


def add_routes(app: web.Application, settings: Settings, secret: Any) -> None:
    """Register the app's routes (call before the catch-all REST route).

    Args:
        secret: a callable returning the development-token secret (read when needed).
    """
    root = web_dir(settings)

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX)

    async def static(request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        index = root / "index.html"
        if not index.is_file():
            return web.Response(
                text=NOT_BUILT.format(where=root), content_type="text/html", status=503
            )
        target = (root / tail).resolve() if tail else index
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            target = index  # the app's own routes (and anything unknown) get the page
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        immutable = target.parent.name == "assets"  # file names carry their content hash
        return web.Response(
            body=target.read_bytes(),
            content_type=content_type,
            headers={
                "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def config(request: web.Request) -> web.StreamResponse:
        base = f"{request.scheme}://{request.host}"
        return web.json_response(site_config(settings, base), headers={"Cache-Control": "no-cache"})

    async def dev_token(request: web.Request) -> web.StreamResponse:
        from agentic_mlops.api.auth import ROLES, issue_dev_token

        if settings.auth.mode != "dev" or not is_loopback(request.remote):
            return _error(404, "route_not_found", f"no route {DEV_TOKEN_PATH}")
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return _error(400, "invalid_input", "send a JSON object {user, roles}")
        user = body.get("user") if isinstance(body, dict) else None
        roles = body.get("roles") if isinstance(body, dict) else None
        if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_CHARS:
            return _error(400, "invalid_input", "user: give a name (at most 120 characters)")
        if (
            not isinstance(roles, list)
            or not roles
            or not all(isinstance(r, str) and r in ROLES for r in roles)
        ):
            return _error(400, "invalid_input", f"roles: choose among {', '.join(ROLES)}")
        token = issue_dev_token(user.strip(), roles, secret=secret())
        return web.json_response(
            {"token": token, "user": user.strip(), "roles": sorted(set(roles))},
            headers={"Cache-Control": "no-store"},
        )

    app.router.add_get("/", redirect)
    app.router.add_get("/app", redirect)
    app.router.add_get("/config.json", config)
    app.router.add_get(PREFIX + "config.json", config)  # the page asks beside itself
    app.router.add_get(PREFIX + "{tail:.*}", static)
    app.router.add_post(DEV_TOKEN_PATH, dev_token)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
