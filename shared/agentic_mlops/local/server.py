"""``agentic-mlops serve``: one process that emulates API Gateway for the two APIs.

- REST at ``http://HOST:PORT/``: each request becomes an API Gateway proxy-integration
  event (v1) handed to the REST function's handler; its answer becomes the response.
- WebSocket at ``ws://HOST:PORT/ws``: the handshake becomes a ``$connect`` event (refused
  unless the handler answers 200), each message a ``$default`` event, the close a
  ``$disconnect`` event. Idle connections are closed after 10 minutes, as API Gateway
  does.
- The ``@connections`` management API at ``http://HOST:PORT/@connections/{id}``
  (POST, GET, DELETE), so the same boto3 ``apigatewaymanagementapi`` client code that
  posts to browsers in AWS posts to them here (pointed at it by endpoint URL); like API
  Gateway it accepts only SigV4-signed requests (with this server's own credentials); a
  closed connection answers ``GoneException`` (410).
- ``/_local/artifacts/KEY`` serves bundles behind signed, expiring links (the local
  stand-in for presigned S3 URLs), and ``/_local/health`` is a bare handler (the
  baseline of the benchmarks).

The engine is the one chosen by configuration; with the in-process engine, runs
continue in background workers of this process, decision sets whose run a crash
interrupted are resumed when the server starts, and stopping cancels queued work (it
stays resumable) and waits a few seconds for running work.

Each request is handled on its own thread with its own request state; a request that
outlives API Gateway's 29-second integration timeout is answered 504 and changes nothing
afterwards (the service checks the request's deadline before every side effect).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from agentic_mlops.local.sigv4 import LocalCredentials, verify
from agentic_mlops.local.web import PREFIX as WEB_PREFIX
from agentic_mlops.local.web import add_routes as add_web_routes

if TYPE_CHECKING:
    from agentic_mlops.composition import Platform
    from agentic_mlops.persistence import Database
    from agentic_mlops.settings import Settings

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
STAGE = "local"
INTEGRATION_TIMEOUT_S = 29.0
IDLE_TIMEOUT_S = 600.0
MAX_POST_BYTES = 128 * 1024
HANDLER_THREADS = 32
STOP_TIMEOUT_S = 5.0


@dataclass
class LambdaContext:
    """Enough of Lambda's context object for the handlers and Powertools."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + INTEGRATION_TIMEOUT_S)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_active_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _rest_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from agentic_mlops.api.rest import handle

    return handle(event, context)


def _websocket_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from agentic_mlops.api.websocket import handle

    return handle(event, context)


class LocalServer:
    """The emulated API Gateway (REST + WebSocket + ``@connections``) and the platform.

    Args:
        settings: the platform's settings.
        database: an open database to use (tests); opened and migrated otherwise.
        host, port: where to listen (port 0 picks a free one).
        idle_timeout_s: close WebSocket connections silent for this long.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        host: str = "127.0.0.1",
        port: int = 8080,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        rest_handler: Handler = _rest_handler,
        websocket_handler: Handler = _websocket_handler,
        recover: bool = True,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.idle_timeout_s = idle_timeout_s
        self.credentials = LocalCredentials()
        self.platform: Platform | None = None
        self._ready: asyncio.Event | None = None
        self.recovered: list[str] = []
        self._database = database
        self._recover = recover
        self._rest_handler = rest_handler
        self._websocket_handler = websocket_handler
        self._sockets: dict[str, _Socket] = {}
        self._executor = ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="handler")
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def service(self) -> Any:
        """The platform's service (once started)."""
        return self.platform.service if self.platform else None

    # URLs -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL."""
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket URL."""
        return f"ws://{_url_host(self.host)}:{self.port}/ws"

    # lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, then build the platform behind the handlers (engine, streams, Slack)."""
        from agentic_mlops.service.inputs import MAX_BODY_BYTES

        self._ready = asyncio.Event()
        app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
        app.router.add_get("/ws", self._ws)
        app.router.add_route("*", "/@connections/{connection_id}", self._connections_api)
        app.router.add_get("/_local/health", self._health)
        app.router.add_get("/_local/artifacts/{key:.+}", self._artifact)
        add_web_routes(app, self.settings, self._token_secret)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self._build_platform)
        self._ready.set()

    @property
    def web_url(self) -> str:
        """The web app's URL."""
        return f"{self.url}{WEB_PREFIX}"

    def _token_secret(self) -> str:
        from agentic_mlops.composition import dev_token_secret

        return dev_token_secret(self.settings)

    def _build_platform(self) -> None:
        from agentic_mlops.composition import build_platform
        from agentic_mlops.streaming.fanout import ManagementApiPoster

        # The handlers post through this server's management API, signing with its keys.
        poster = ManagementApiPoster(
            self.credentials.region,
            credentials=(self.credentials.access_key, self.credentials.secret_key),
        )
        self.platform = build_platform(
            self.settings,
            "serve",
            database=self._database,
            poster=poster,
            ws_endpoint=self.url,
            public_url=self.url,
        )
        if self._recover:
            self.recovered = self.platform.engine.recover()
            if self.recovered:
                logger.info("resuming %d interrupted run(s)", len(self.recovered))

    async def stop(self) -> None:
        """Close the WebSockets, stop listening, stop the engine (bounded), let go."""
        for socket in list(self._sockets.values()):
            await socket.ws.close(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        loop = asyncio.get_running_loop()
        if self.platform is not None:
            platform = self.platform
            close = platform.close if self._database is None else platform.engine.close
            await loop.run_in_executor(None, close, STOP_TIMEOUT_S)
            if self._database is not None and platform.streams is not None:
                platform.database.store.remove_listener(platform.streams.publish)
                platform.streams.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def start_in_thread(self) -> LocalServer:
        """Run the server on its own event loop in a thread (tests, benchmarks)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()
            self._stopped.set()

        self._thread = threading.Thread(target=run, name="local-server", daemon=True)
        self._thread.start()
        ready.wait(60)
        if failure:
            raise failure[0]
        return self

    def stop_thread(self) -> None:
        """Stop a server started with :meth:`start_in_thread`."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._stopped.wait(60)
            self._thread.join(10)

    async def _call(self, handler: Handler, event: dict[str, Any], name: str) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self._ready is not None:  # requests that arrive while the platform is built wait
            await asyncio.wait_for(self._ready.wait(), INTEGRATION_TIMEOUT_S)
        context = LambdaContext(function_name=name)
        return await asyncio.wait_for(
            loop.run_in_executor(self._executor, self._serve, handler, event, context),
            INTEGRATION_TIMEOUT_S,
        )

    def _serve(self, handler: Handler, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Call ``handler`` answering from this server's platform (not another's)."""
        from agentic_mlops.composition.container import serving

        if self.platform is None:
            raise RuntimeError("the server has not started")
        with serving(self.platform):
            return handler(event, context)

    # REST -------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            event = await rest_event(request, self.port)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(
                {
                    "error": {
                        "code": "payload_too_large",
                        "message": "the body is larger than the API accepts (256 KB)",
                    }
                },
                status=413,
            )
        try:
            result = await self._call(self._rest_handler, event, "api")
        except TimeoutError:
            return web.json_response({"message": "Endpoint request timed out"}, status=504)
        except Exception:
            logger.exception("the REST handler failed")
            return web.json_response({"message": "Internal server error"}, status=502)
        return proxy_response(result)

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def _artifact(self, request: web.Request) -> web.StreamResponse:
        from agentic_mlops.artifacts.links import verify_download
        from agentic_mlops.composition import dev_token_secret

        key = request.match_info["key"]
        secret = dev_token_secret(self.settings)
        signed = verify_download(
            key, request.query.get("expires"), request.query.get("signature"), secret
        )
        if not signed or self.platform is None:
            return web.json_response(
                {"error": {"code": "forbidden", "message": "the link is invalid or expired"}},
                status=403,
            )
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(None, self.platform.artifacts.get, key)
        except Exception:
            return web.json_response(
                {"error": {"code": "not_found", "message": f"no artifact {key}"}}, status=404
            )
        filename = key.rsplit("/", 1)[-1]
        return web.Response(
            body=data,
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    # WebSocket --------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        connection_id = base64.b64encode(secrets.token_bytes(12)).decode()
        answer = await self._call(
            self._websocket_handler, ws_event(request, connection_id, "$connect", self.port), "ws"
        )
        status = int(answer.get("statusCode", 500))
        if status != 200:
            return web.json_response({"message": answer.get("body")}, status=status)
        ws = web.WebSocketResponse(max_msg_size=128 * 1024)
        await ws.prepare(request)
        socket = _Socket(ws, request.remote or "", request.headers.get("User-Agent", ""))
        self._sockets[connection_id] = socket
        try:
            while True:
                try:
                    message = await ws.receive(timeout=self.idle_timeout_s)
                except TimeoutError:
                    await ws.close(code=1001, message=b"idle timeout")
                    break
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                if message.type == WSMsgType.ERROR:
                    break
                socket.last_active_at = datetime.now(UTC)
                if message.type != WSMsgType.TEXT:
                    await ws.send_json(
                        {
                            "type": "error",
                            "code": "invalid_message",
                            "message": "send JSON text messages",
                        }
                    )
                    continue
                event = ws_event(request, connection_id, "$default", self.port, body=message.data)
                try:
                    await self._call(self._websocket_handler, event, "ws")
                except Exception:
                    # A handler failure is the server's problem, not the connection's.
                    logger.exception("the WebSocket handler failed on a message")
        finally:
            self._sockets.pop(connection_id, None)
            event = ws_event(request, connection_id, "$disconnect", self.port)
            try:
                await self._call(self._websocket_handler, event, "ws")
            except Exception:
                logger.warning("$disconnect handler failed for %s", connection_id, exc_info=True)
        return ws

    async def _connections_api(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        refused = verify(
            self.credentials,
            method=request.method,
            url=f"{request.scheme}://{request.host}{request.raw_path}",
            headers=dict(request.headers),
            body=data,
        )
        if refused is not None:
            return web.json_response(
                {"message": f"Forbidden: {refused}"},
                status=403,
                headers={"x-amzn-ErrorType": "ForbiddenException"},
            )
        connection_id = request.match_info["connection_id"]
        socket = self._sockets.get(connection_id)
        if socket is None or socket.ws.closed:
            return _gone(connection_id)
        if request.method == "POST":
            if len(data) > MAX_POST_BYTES:
                return web.json_response(
                    {"message": "payload too large"},
                    status=413,
                    headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
                )
            try:
                await socket.ws.send_str(data.decode("utf-8", "replace"))
            except (ConnectionError, RuntimeError):
                return _gone(connection_id)
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response(
                {
                    "ConnectedAt": socket.connected_at.isoformat(),
                    "LastActiveAt": socket.last_active_at.isoformat(),
                    "Identity": {"SourceIp": socket.source_ip, "UserAgent": socket.user_agent},
                }
            )
        if request.method == "DELETE":
            await socket.ws.close(code=1000, message=b"closed by the server")
            return web.Response(status=204)
        return web.json_response({"message": "method not allowed"}, status=405)


def _gone(connection_id: str) -> web.Response:
    return web.json_response(
        {"message": f"connection {connection_id} is gone"},
        status=410,
        headers={"x-amzn-ErrorType": "GoneException"},
    )


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::"}:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _request_context(request: web.Request, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "requestId": str(uuid.uuid4()),
        "stage": STAGE,
        "apiId": "local",
        "domainName": f"{_url_host(request.host.rsplit(':', 1)[0])}:{port}",
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {
            "sourceIp": request.remote or "",
            "userAgent": request.headers.get("User-Agent", ""),
        },
        **extra,
    }


def _single(multi: dict[str, list[str]]) -> dict[str, str] | None:
    return {k: v[-1] for k, v in multi.items()} or None


async def rest_event(request: web.Request, port: int) -> dict[str, Any]:
    """The API Gateway REST proxy-integration event (payload v1) for a request."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in request.query.items():
        query.setdefault(name, []).append(value)
    raw = await request.read()
    try:
        body: str | None = raw.decode("utf-8") if raw else None
        encoded = False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode(), True
    return {
        "resource": "/{proxy+}",
        "path": request.path,
        "httpMethod": request.method,
        "headers": _single(headers),
        "multiValueHeaders": headers or None,
        "queryStringParameters": _single(query),
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": request.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": _request_context(
            request,
            port,
            resourcePath="/{proxy+}",
            httpMethod=request.method,
            path=f"/{STAGE}{request.path}",
        ),
        "body": body,
        "isBase64Encoded": encoded,
    }


def ws_event(
    request: web.Request, connection_id: str, route: str, port: int, body: str | None = None
) -> dict[str, Any]:
    """The API Gateway WebSocket event for a connect, a message or a disconnect."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": _request_context(
            request,
            port,
            routeKey=route,
            eventType=event_type,
            connectionId=connection_id,
            messageDirection="IN",
            connectedAt=int(time.time() * 1000),
        ),
        "isBase64Encoded": False,
    }
    if route == "$connect":
        event["headers"] = dict(request.headers)
        event["queryStringParameters"] = dict(request.query) or None
    if body is not None:
        event["body"] = body
        event["requestContext"]["messageId"] = secrets.token_urlsafe(8)
    return event


def proxy_response(result: dict[str, Any]) -> web.Response:
    """The HTTP response for a proxy-integration answer (as API Gateway maps it)."""
    status = int(result.get("statusCode", 502))
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = web.Response(status=status, body=data)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            if response.headers.get(name) != str(value):
                response.headers.add(name, str(value))
    return response


def serve(settings: Settings, host: str, port: int, echo: Callable[[str], None]) -> None:
    """Run the server until Ctrl-C (or SIGTERM), then stop within a few seconds."""
    import signal

    async def main() -> None:
        server = LocalServer(settings, host=host, port=port)
        await server.start()
        echo(f"Web app    {server.web_url}  (open this URL in a browser)")
        echo(f"REST API   {server.url}/  (OpenAPI document: {server.url}/openapi.json)")
        echo(f"WebSocket  {server.ws_url}?token=TOKEN")
        echo(f"@connections management API  {server.url}/@connections/{{id}} (SigV4)")
        if server.recovered:
            echo(f"Resuming {len(server.recovered)} interrupted run(s).")
        echo("Press Ctrl-C to stop.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        echo("Stopping: closing connections; queued work stays resumable...")
        await server.stop()
        echo("Stopped.")

    asyncio.run(main())
