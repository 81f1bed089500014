"""Fakes for the Slack tests (importable as ``slack_fakes``): a local HTTP server playing
Slack (Web API and response_urls, real sockets), a recording ``decide``, request signing
done the way Slack does it, and builders for waits and click payloads."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from agentic_mlops.persistence.models import Wait

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1234567890-0987654321-SeCrEtBoTtOkEn"
CHANNEL = "C0APPROVALS"
APPROVER = "U012ABCDEF"
STRANGER = "U0STRANGER"
APPROVAL_ID = "wait-0123456789ab"
DECISION_SET_ID = "ds-000000000000"
PROJECT_ID = "prj-churn"
NOW = 1_700_000_000.0
# What a Step Functions task token looks like: it must never reach Slack.
TASK_TOKEN = "AAAAKgAAAAIAAAAAAAAAAb8Zr1TaskTokenLooking0x" + "Q" * 64


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: ``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str, *, timestamp: float = NOW, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """The headers Slack sends with ``body``."""
    ts = str(int(timestamp))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(secret, ts, body),
    }


def make_wait(**request: Any) -> Wait:
    """A pending approval wait; ``request`` overrides the approval summary's fields."""
    summary = {
        "kind": "approval",
        "plan": "Nightly churn training on SageMaker",
        "region": "eu-west-1",
        "summary": "SageMaker Pipelines trains XGBoost nightly; batch transform scores customers.",
        "services": ["SageMaker Pipelines", "SageMaker Training", "S3", "KMS"],
        "monthly_total_usd": 1234.5,
        "budget_monthly_usd": 1500.0,
        "policy": "pass",
        "failed_rules": [],
    }
    return Wait(
        id=APPROVAL_ID,
        decision_set_id=DECISION_SET_ID,
        kind="approval",
        wait_key="gate_hitl",
        status="pending",
        request={**summary, **request},
        response=None,
        decided_by=None,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        decided_at=None,
    )


def click_payload(
    *,
    response_url: str,
    user_id: str = APPROVER,
    action_id: str = "approval_approve",
    value: str = APPROVAL_ID,
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on one of the request's buttons."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "team_id": "T0123ABCD"},
        "team": {"id": "T0123ABCD", "domain": "example"},
        "channel": {"id": CHANNEL, "name": "mlops-approvals"},
        "message": {"type": "message", "ts": "1700000000.000100", "blocks": blocks or []},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "approval_actions",
                "value": value,
                "action_ts": "1700000001.000200",
            }
        ],
    }


def form_body(payload: Any) -> str:
    """The form-encoded body Slack posts: ``payload=<JSON>``."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": text})


@dataclass
class ApprovalResult:
    """What the platform's ``decide`` returns."""

    decision_set_id: str
    approval_id: str
    decision: str
    approver: str
    comment: str | None = None
    replayed: bool = False
    status: str = "approved"


@dataclass
class FakeDecide:
    """A recording ``decide``: returns a result, or raises ``error`` when set."""

    error: Exception | None = None
    replayed: bool = False
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    plan_hashes: list[str | None] = field(default_factory=list)

    def __call__(
        self,
        identity: Any,
        approval_id: str,
        decision: str,
        comment: str | None,
        *,
        plan_hash: str | None = None,
    ) -> ApprovalResult:
        self.calls.append((identity, approval_id, decision, comment))
        self.plan_hashes.append(plan_hash)
        if self.error is not None:
            raise self.error
        return ApprovalResult(
            decision_set_id=DECISION_SET_ID,
            approval_id=approval_id,
            decision=decision,
            approver=identity.user,
            comment=comment,
            replayed=self.replayed,
            status="approved" if decision == "approve" else "rejected",
        )


@dataclass
class Received:
    """One request the fake Slack received."""

    path: str
    headers: dict[str, str]
    raw: str

    def json(self) -> Any:
        return json.loads(self.raw)


class FakeSlack:
    """Slack on a local socket: ``POST /api/<method>`` (Web API) and ``POST /actions/...``
    (response_urls). Records every request; answers are configurable per path."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, tuple[int, str]] = {
            "/api/chat.postMessage": (
                200,
                json.dumps({"ok": True, "channel": CHANNEL, "ts": "1700000000.000100"}),
            ),
        }
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake Slack is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "T0123ABCD/1/abc") -> str:
        return f"{self.url}/actions/{name}"

    def on(self, path: str, status: int, body: Any) -> None:
        self.answers[path] = (status, body if isinstance(body, str) else json.dumps(body))

    def to(self, prefix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.startswith(prefix)]

    @contextmanager
    def running(self) -> Iterator[FakeSlack]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                with fake._lock:
                    fake.received.append(Received(self.path, dict(self.headers.items()), raw))
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                status, body = fake.answers.get(self.path, (200, "ok"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (timeout tests)
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)


@dataclass
class LambdaContext:
    """The attributes of the Lambda context Powertools reads."""

    function_name: str = "agentic-mlops-slack"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:agentic-mlops-slack"
    aws_request_id: str = "3f1c2b4a-0000-4000-8000-000000000000"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 3000
