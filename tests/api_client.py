"""A small client for the local server in tests: REST over urllib, WebSocket over websockets."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

DEV_SECRET = "test-dev-token-secret-0123456789abcdef0123456789"
WORKLOAD = (
    "Nightly batch churn model on 40 GB of customer data with PII, eu-west-1 only,"
    " budget $1,500/month"
)


class Rest:
    """JSON over HTTP with a bearer token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base_url + path, method=method, data=data)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        return status, json.loads(text) if text else None

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call("POST", path, body)

    def wait_status(self, decision_set_id: str, statuses: set[str], timeout: float = 90) -> Any:
        """Poll a decision set until its status is one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.get(f"/decision-sets/{decision_set_id}")
            assert status == 200, body
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{decision_set_id} stayed {body['status']}")
            time.sleep(0.1)


class Stream:
    """A WebSocket client that keeps every message it receives."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.connection: ClientConnection = connect(f"{ws_url}?token={token}", open_timeout=10)
        self.connection.__enter__()  # the context-manager protocol, closed by close()
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def subscribe(self, decision_set_id: str, since: int | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"action": "subscribe", "decision_set_id": decision_set_id}
        if since is not None:
            message["since"] = since
        self.send(message)
        return self.until(lambda m: m["type"] in {"subscribed", "error"})

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching message; got {[m['type'] for m in self.messages]}"
                )
            message = json.loads(self.connection.recv(timeout=remaining))
            self.messages.append(message)
            if predicate(message):
                return message

    def events(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "seq" in m]

    def close(self) -> None:
        self.connection.close()


def token(user: str, *roles: str, project: str | None = None) -> str:
    """A development token signed with the test secret."""
    from agentic_mlops.api.auth import issue_dev_token

    return issue_dev_token(user, roles, project, secret=DEV_SECRET)
