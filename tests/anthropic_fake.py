"""A fake Anthropic Messages API behind the real SDK (importable as ``anthropic_fake``).

:class:`FakeAnthropic` is an HTTP transport: the real ``anthropic.Anthropic`` client sends
its requests to it (``http_client=fake.http_client()``), so the SDK's own request building,
error mapping and response parsing run unchanged, without a network. Replies are scripted
(a queue of :class:`Reply`), or computed by a responder from the request. Every request is
recorded with its exact body bytes.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic

# The SDK's HTTP library: httpx for anthropic < 2, httpx2 from 2.0 on.
http = importlib.import_module(anthropic.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])

BASE_URL = "http://anthropic.fake"
_INPUT = re.compile(r"<input>(?P<json>.*)</input>", re.DOTALL)


@dataclass
class Reply:
    """One scripted answer: a status with a JSON body and headers, or a raised exception."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raises: type[Exception] | None = None


@dataclass(frozen=True)
class Recorded:
    """A request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def model(self) -> str:
        return str(self.json["model"])

    @property
    def tool(self) -> str:
        return str(self.json["tool_choice"]["name"])

    def inputs(self) -> dict[str, Any]:
        """The inputs the provider put in the first user message."""
        text = self.json["messages"][0]["content"][0]["text"]
        match = _INPUT.search(text)
        assert match, text
        return json.loads(match.group("json"))


class FakeAnthropic(http.BaseTransport):  # type: ignore[misc,name-defined]
    """The Messages API, scripted.

    Args:
        replies: answered in order; when they run out, ``responder`` answers.
        responder: computes a reply from the request (default: fail the test).
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        responder: Callable[[Recorded], Reply] | None = None,
    ) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.responder = responder
        self.requests: list[Recorded] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def http_client(self) -> Any:
        return http.Client(transport=self)

    def client(self, **kwargs: Any) -> anthropic.Anthropic:
        """A real SDK client on this transport (no SDK retries)."""
        options = {"api_key": "test-key", "base_url": BASE_URL, "max_retries": 0, **kwargs}
        return anthropic.Anthropic(http_client=self.http_client(), **options)

    def reply_to(self, recorded: Recorded) -> Reply:
        """Record a request and return its scripted (or computed) reply."""
        self.requests.append(recorded)
        if self.replies:
            return self.replies.popleft()
        if self.responder is not None:
            return self.responder(recorded)
        raise AssertionError(f"unexpected request #{self.calls}: {recorded.body[:200]!r}")

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the fake over real HTTP on localhost; yield its base URL.

        For code that builds its own client from the environment (``ANTHROPIC_BASE_URL``).
        """
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake.reply_to(Recorded("POST", self.path, headers, body))
                content = json.dumps(reply.body or {}).encode("utf-8")
                self.send_response(reply.status)
                for name, value in {"content-type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def handle_request(self, request: Any) -> Any:
        body = request.read()
        recorded = Recorded(request.method, request.url.path, dict(request.headers), body)
        reply = self.reply_to(recorded)
        if reply.raises is not None:
            raise reply.raises("scripted failure", request=request)
        return http.Response(
            reply.status,
            headers={"content-type": "application/json", **reply.headers},
            content=json.dumps(reply.body or {}).encode("utf-8"),
            request=request,
        )


# replies --------------------------------------------------------------------------------

_counter = {"n": 0}


def tool_use(
    name: str, payload: dict[str, Any], *, model: str = "claude-fake", text: str | None = None
) -> Reply:
    """A 200 answer whose content calls ``name`` with ``payload``."""
    _counter["n"] += 1
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    content.append(
        {"type": "tool_use", "id": f"toolu_{_counter['n']:04d}", "name": name, "input": payload}
    )
    return Reply(
        body={
            "id": f"msg_{_counter['n']:04d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 50},
        }
    )


def text_only(text: str, *, model: str = "claude-fake") -> Reply:
    """A 200 answer with no tool call."""
    return Reply(
        body={
            "id": "msg_text",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 5},
        }
    )


def _error(status: int, kind: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        body={"type": "error", "error": {"type": kind, "message": f"{kind} (fake)"}},
        headers=headers or {},
    )


def rate_limited(retry_after: str | None = None, retry_after_ms: str | None = None) -> Reply:
    """429 with optional ``retry-after`` / ``retry-after-ms`` headers."""
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return _error(429, "rate_limit_error", headers)


def overloaded() -> Reply:
    """529, Anthropic's "overloaded"."""
    return _error(529, "overloaded_error")


def server_error(status: int = 500) -> Reply:
    return _error(status, "api_error")


def bad_request() -> Reply:
    return _error(400, "invalid_request_error")


def timeout() -> Reply:
    """The transport times out (the SDK raises APITimeoutError)."""
    return Reply(raises=http.ReadTimeout)


# a responder that answers like the offline provider ------------------------------------


def offline_responder(model: str = "claude-fake") -> Callable[[Recorded], Reply]:
    """Answer every tool with what the offline provider concludes from the same inputs:
    a model that always gives valid, input-dependent answers."""
    from agentic_mlops.domain import ConstraintSchema, CostEstimate, Plan
    from agentic_mlops.providers.offline import OfflineProvider

    offline = OfflineProvider()

    def dump(value: Any) -> Any:
        return value.model_dump(mode="json")

    def answer(recorded: Recorded) -> Reply:
        inputs = recorded.inputs()
        tool = recorded.tool
        method = tool.removeprefix("record_")
        constraints = (
            ConstraintSchema.model_validate(inputs["constraints"])
            if "constraints" in inputs
            else None
        )
        plan = Plan.model_validate(inputs["plan"]) if "plan" in inputs else None
        if method == "extract_constraints":
            result = offline.extract_constraints(inputs["request"], inputs["answers"])
            payload = {
                "constraints": dump(result.value.constraints),
                "evidence": result.value.evidence,
            }
        elif method == "ask_questions":
            result = offline.ask_questions(constraints, inputs["missing"])
            payload = {"questions": [dump(q) for q in result.value]}
        elif method == "plan":
            result = offline.plan(constraints)
            payload = {"plan": dump(result.value)}
        elif method == "critique_technical":
            result = offline.critique_technical(constraints, plan)
            payload = {"critique": dump(result.value)}
        elif method == "critique_cost":
            estimate = CostEstimate.model_validate(inputs["estimate"])
            result = offline.critique_cost(constraints, plan, estimate)
            payload = {"findings": [dump(f) for f in result.value]}
        elif method == "interpret_feedback":
            result = offline.interpret_feedback(inputs["comment"], constraints)
            updated, feedback = result.value
            payload = {"constraints": dump(updated), "feedback": dump(feedback)}
        else:  # pragma: no cover - a new method needs a branch here
            raise AssertionError(f"no fake answer for {tool}")
        payload["explanation"] = dump(result.explanation)
        return tool_use(tool, payload, model=model)

    return answer
