"""``agentic-mlops serve``: one process that emulates API Gateway for the two APIs.

- REST at ``http://HOST:PORT/``: each request becomes an API Gateway proxy-integration
  event (v1) handed to the REST function's handler; its answer becomes the response.
- WebSocket at ``ws://HOST:PORT/ws``: the handshake becomes a ``$connect`` event (refused
  unless the handler answers 200), each message a ``$default`` event, the close a
  ``$disconnect`` event. Idle connections are closed after 10 minutes, as API Gateway
  does.
- The ``@connections`` management API at ``http://HOST:PORT/@connections/{id}``
  (POST, GET, DELETE), so the same boto3 ``apigatewaymanagementapi`` client code that
  posts to browsers in AWS posts to them here (pointed at it by endpoint URL); a closed
  connection answers ``GoneException`` (410).
- ``/_local/artifacts/KEY`` serves bundles behind signed, expiring links (the local
  stand-in for presigned S3 URLs), and ``/_local/health`` is a bare handler (the
  baseline of the benchmarks).

The engine is the one chosen by configuration; with the in-process engine, runs
continue in background workers of this process.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
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

if TYPE_CHECKING:
    from agentic_mlops.api.service import PlatformService
    from agentic_mlops.persistence import Database
    from agentic_mlops.streaming.fanout import Streams

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
STAGE = "local"
INTEGRATION_TIMEOUT_S = 29.0
IDLE_TIMEOUT_S = 600.0
MAX_REST_BODY = 10 * 1024 * 1024
MAX_POST_BYTES = 128 * 1024


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
    """The emulated API Gateway (REST + WebSocket + ``@connections``) and the engine.

    Args:
        database: the open platform database.
        host, port: where to listen (port 0 picks a free one).
        idle_timeout_s: close WebSocket connections silent for this long.
    """

    def __init__(
        self,
        database: Database,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        rest_handler: Handler = _rest_handler,
        websocket_handler: Handler = _websocket_handler,
    ) -> None:
        self.database = database
        self.host = host
        self.port = port
        self.idle_timeout_s = idle_timeout_s
        self._rest_handler = rest_handler
        self._websocket_handler = websocket_handler
        self._sockets: dict[str, _Socket] = {}
        self._executor = ThreadPoolExecutor(48, thread_name_prefix="handler")
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.service: PlatformService | None = None
        self.streams: Streams | None = None

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
        app = web.Application(client_max_size=MAX_REST_BODY)
        app.router.add_get("/ws", self._ws)
        app.router.add_route("*", "/@connections/{connection_id}", self._connections_api)
        app.router.add_get("/_local/health", self._health)
        app.router.add_get("/_local/artifacts/{key:.+}", self._artifact)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._build_platform()

    def _build_platform(self) -> None:
        from agentic_mlops.api import runtime
        from agentic_mlops.api.service import BackgroundRunner, PlatformService
        from agentic_mlops.engines import create_engine
        from agentic_mlops.providers import provider_from_env
        from agentic_mlops.streaming.fanout import ENDPOINT_ENV, ManagementApiPoster, Streams

        # The handlers post through the management API of this server; boto3 signs its
        # requests, so it needs keys even though nothing checks them here.
        os.environ[ENDPOINT_ENV] = self.url
        poster = ManagementApiPoster(credentials=("local", "local"))
        provider = provider_from_env()
        engine = create_engine(self.database, provider)
        local = getattr(engine, "_runtime", engine)
        self.streams = Streams(self.database.pool, poster)
        runtime.wire(local, self.database, self.streams)
        runner = BackgroundRunner() if engine is local else None
        self.service = PlatformService(engine, runner, public_url=self.url)
        runtime.configure(self.service, self.streams)

    async def stop(self) -> None:
        """Close the WebSockets, stop listening, let running work finish."""
        for socket in list(self._sockets.values()):
            await socket.ws.close(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        loop = asyncio.get_running_loop()
        if self.service is not None and self.service.runner is not None:
            await loop.run_in_executor(None, self.service.runner.shutdown)
        if self.streams is not None:
            self.database.store.remove_listener(self.streams.publish)
            self.streams.close()
        self._executor.shutdown(wait=False)
        from agentic_mlops.api import runtime

        runtime.reset()

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
        context = LambdaContext(function_name=name)
        return await asyncio.wait_for(
            loop.run_in_executor(self._executor, handler, event, context), INTEGRATION_TIMEOUT_S
        )

    # REST -------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        event = await rest_event(request, self.port)
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
        from agentic_mlops.api.downloads import verify_download

        key = request.match_info["key"]
        if not verify_download(key, request.query.get("expires"), request.query.get("signature")):
            return web.json_response(
                {"error": {"code": "forbidden", "message": "the link is invalid or expired"}},
                status=403,
            )
        artifacts = getattr(self.service.engine, "artifacts", None) if self.service else None
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(None, artifacts.get, key)  # type: ignore[union-attr]
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
                body = (
                    message.data
                    if message.type == WSMsgType.TEXT
                    else message.data.decode("utf-8", "replace")
                )
                event = ws_event(request, connection_id, "$default", self.port, body=body)
                await self._call(self._websocket_handler, event, "ws")
        finally:
            self._sockets.pop(connection_id, None)
            event = ws_event(request, connection_id, "$disconnect", self.port)
            try:
                await self._call(self._websocket_handler, event, "ws")
            except Exception:
                logger.warning("$disconnect handler failed for %s", connection_id, exc_info=True)
        return ws

    async def _connections_api(self, request: web.Request) -> web.StreamResponse:
        connection_id = request.match_info["connection_id"]
        socket = self._sockets.get(connection_id)
        if socket is None or socket.ws.closed:
            return _gone(connection_id)
        if request.method == "POST":
            data = await request.read()
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


def serve(database: Database, host: str, port: int, echo: Callable[[str], None]) -> None:
    """Run the server until Ctrl-C (or SIGTERM), then stop cleanly."""
    import signal

    async def main() -> None:
        server = LocalServer(database, host=host, port=port)
        await server.start()
        echo(f"REST API   {server.url}/  (OpenAPI document: {server.url}/openapi.json)")
        echo(f"WebSocket  {server.ws_url}?token=TOKEN")
        echo(f"@connections management API  {server.url}/@connections/{{id}}")
        echo("Press Ctrl-C to stop.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        echo("Stopping: closing connections and letting running work finish...")
        await server.stop()
        echo("Stopped.")

    asyncio.run(main())
