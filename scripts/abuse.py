"""Load and abuse: many clients at once against the local server, hostile and careless.

Starts ``serve`` (in this process, on loopback, with a throwaway embedded PostgreSQL unless
``DATABASE_URL`` is set) and runs ``--clients`` clients for ``--seconds`` seconds. Each
client belongs to one of several users, each a requester and approver of a project of its
own, and mixes:

- normal flows: a request in plain words, the questions answered, the plan approved or
  rejected (naming the plan hash it read), then reads of the result;
- reads of its own decision sets and timelines, checked to be its own, and reads of other
  users' decision sets, which must be "not found";
- bad input: JSON nested 1,200 deep, NUL characters, lone surrogates, 310-digit numbers,
  infinities, bodies that are not UTF-8 or are over the size limit, unknown fields,
  forged and expired tokens;
- WebSocket abuse: malformed subscriptions, cursors of 2**63, message floods.

Between its calls each client also hits the server's bare handler (``/_local/health``):
the baseline of the read latencies, measured in the same run.

It reports: requests made, 5xx answers (must be 0), answers for the wrong caller or
decision set (must be 0), decision sets not settled at the end (must be 0), the p50/p95 of
reads against the bare handler, and how fast bad input is refused. Exit code 1 when a
must-be-0 figure is not 0.

Usage: .venv/bin/python scripts/abuse.py [--clients 30] [--seconds 60] [--seed 7]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SECRET = "abuse-dev-token-secret-0123456789abcdef0123456789abcdef"
USERS = 6
REQUESTS = (
    "Nightly batch churn model on 40 GB of customer data with PII, eu-west-1 only,"
    " budget $1,500/month",
    "Real-time fraud scoring API, p99 under 50 ms at 300 requests per second, us-east-1,"
    " 200 GB of history, budget $6k per month, PCI DSS applies.",
    "Weekly demand forecast on 12 GB of sales data, no personal data, eu-central-1",
)
SETTLED = {"awaiting_input", "awaiting_approval", "approved", "rejected", "failed"}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


class Tally:
    """What every client saw, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self.crossings: list[str] = []
        self.reads: list[float] = []
        self.bare: list[float] = []
        self.refusals: list[float] = []
        self.decision_sets: dict[str, int] = {}
        """Each decision set made, and the user (index) whose project holds it."""
        self.frames = 0

    def status(self, code: int, what: str) -> None:
        with self.lock:
            self.statuses[code] += 1
            if code >= 500:
                self.server_errors.append(f"{code} {what}")

    def crossing(self, what: str) -> None:
        with self.lock:
            self.crossings.append(what)


class Client:
    """One HTTP client (keep-alive) of one user."""

    def __init__(self, host: str, port: int, user: int, tokens: list[str], tally: Tally) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.user = user
        self.token = tokens[user]
        self.tally = tally

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = "own",
        what: str = "",
    ) -> tuple[int, Any, float]:
        headers = {"Content-Type": "application/json"}
        bearer = self.token if token == "own" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            answer = self.connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            # The server closes a connection after refusing an oversized body: reconnect.
            self.connection.close()
            self.connection = http.client.HTTPConnection(
                self.connection.host, self.connection.port, timeout=60
            )
            self.tally.status(499, f"connection dropped on {what or path}")
            return 499, None, time.perf_counter() - started
        elapsed = time.perf_counter() - started
        self.tally.status(answer.status, what or f"{method} {path}")
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return answer.status, parsed, elapsed

    def json(self, method: str, path: str, document: Any, **kwargs: Any) -> tuple[int, Any, float]:
        return self.call(method, path, json.dumps(document).encode(), **kwargs)


def _bad_inputs(project: str, decision_set: str) -> list[tuple[str, str, bytes | None, Any]]:
    """(method, path, raw body, token) of hostile and careless requests."""
    deep = b"[" * 1200 + b"]" * 1200
    nul = json.dumps({"request": "bad\u0000request"}).encode()
    lone = b'{"request": "bad\\ud800request"}'
    nines = "9" * 310
    return [
        ("POST", "/projects", b'{"name": ' + deep + b"}", "own"),
        ("POST", "/projects", b'{"name": "caf\xe9"}', "own"),
        ("POST", f"/projects/{project}/decision-sets", nul, "own"),
        ("POST", f"/projects/{project}/decision-sets", lone, "own"),
        (
            "POST",
            f"/projects/{project}/decision-sets",
            json.dumps({"request": REQUESTS[0], "answers": {"data_volume_gb": nines}}).encode(),
            "own",
        ),
        (
            "POST",
            f"/decision-sets/{decision_set}/revisions",
            f'{{"from_seq": {nines}}}'.encode(),
            "own",
        ),
        ("POST", f"/decision-sets/{decision_set}/revisions", b'{"from_seq": 1e999}', "own"),
        ("POST", f"/decision-sets/{decision_set}/approval", b'{"decision": "maybe"}', "own"),
        ("POST", "/projects", json.dumps({"name": "x" * 300_000}).encode(), "own"),
        ("GET", f"/decision-sets/{decision_set}/events?type=a%00b", None, "own"),
        ("GET", f"/decision-sets/{decision_set}/events?after={nines}", None, "own"),
        ("GET", f"/decision-sets/{decision_set}", None, "forged.token.value"),
        ("GET", f"/decision-sets/{decision_set}", None, None),
        ("POST", "/projects", b'{"name": "x", "colour": "blue"}', "own"),
    ]


def _flow(client: Client, project: str, rng: random.Random) -> str | None:
    """A request through its questions to a decision; returns the decision set id."""
    status, body, _ = client.json(
        "POST", f"/projects/{project}/decision-sets", {"request": rng.choice(REQUESTS)}
    )
    if status != 202:
        return None
    decision_set = body["id"]
    with client.tally.lock:
        client.tally.decision_sets[decision_set] = client.user
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, view, elapsed = client.call("GET", f"/decision-sets/{decision_set}")
        client.tally.reads.append(elapsed)
        _check_own(client, view, decision_set, project)
        if view and view["status"] == "awaiting_input":
            answers = {
                q["field"]: q["examples"][0] if q["examples"] else "none"
                for q in view["pending"]["request"]["questions"]
            }
            client.json("POST", f"/decision-sets/{decision_set}/answers", {"answers": answers})
        elif view and view["status"] == "awaiting_approval":
            decision = "approve" if rng.random() < 0.3 else "reject"
            client.json(
                "POST",
                f"/decision-sets/{decision_set}/approval",
                {
                    "decision": decision,
                    "comment": "load test",
                    "plan_hash": view["pending"]["request"]["plan_hash"],
                },
            )
            return decision_set
        elif view and view["status"] in SETTLED:
            return decision_set
        time.sleep(0.1)
    return decision_set


def _check_own(client: Client, view: Any, decision_set: str, project: str) -> None:
    if view and "id" in view and (view["id"] != decision_set or view["project_id"] != project):
        client.tally.crossing(f"user {client.user} asked {decision_set}, got {view['id']}")


def _websocket_abuse(ws_url: str, token: str, decision_set: str, tally: Tally) -> None:
    from websockets.sync.client import connect

    with connect(f"{ws_url}?token={token}", open_timeout=10) as socket:
        messages = [
            {"action": "subscribe", "decision_set_id": "ds-\u0000x"},
            {"action": "subscribe", "decision_set_id": decision_set, "since": 2**63},
            {"action": "dance"},
        ]
        for message in messages:
            socket.send(json.dumps(message))
        for _ in range(30):  # a flood: the budget answers rate_limited, the socket stays
            socket.send(json.dumps({"action": "ping"}))
        received = 0
        try:
            while received < len(messages) + 30:
                reply = json.loads(socket.recv(timeout=5))
                received += 1
                if reply.get("decision_set_id") not in (None, decision_set):
                    tally.crossing(f"WebSocket reply for {reply.get('decision_set_id')}")
        except TimeoutError:
            tally.status(599, "WebSocket replies missing")
        with tally.lock:
            tally.frames += received


class _Session:
    """One client's mix of normal flows, reads, cross reads and abuse."""

    def __init__(
        self,
        index: int,
        seed: int,
        server: Any,
        projects: list[str],
        tokens: list[str],
        tally: Tally,
    ) -> None:
        self.rng = random.Random(seed * 1000 + index)
        self.user = index % USERS
        self.project = projects[self.user]
        self.token = tokens[self.user]
        self.server = server
        self.client = Client("127.0.0.1", server.port, self.user, tokens, tally)
        self.tally = tally
        self.own: list[str] = []
        self.flows = 0

    def act(self) -> None:
        roll = self.rng.random()
        if roll < 0.08 and self.flows < 2:
            self.flows += 1
            made = _flow(self.client, self.project, self.rng)
            if made:
                self.own.append(made)
        elif roll < 0.45 and self.own:
            self.read_own()
        elif roll < 0.55:
            self.read_other()
        elif roll < 0.85:
            self.abuse()
        elif roll < 0.87 and self.own:
            _websocket_abuse(self.server.ws_url, self.token, self.own[0], self.tally)
        # the baseline, interleaved with everything else
        _, _, elapsed = self.client.call("GET", "/_local/health", token=None)
        self.tally.bare.append(elapsed)

    def read_own(self) -> None:
        target = self.rng.choice(self.own)
        _, view, elapsed = self.client.call("GET", f"/decision-sets/{target}")
        self.tally.reads.append(elapsed)
        _check_own(self.client, view, target, self.project)
        _, page, _ = self.client.call("GET", f"/decision-sets/{target}/events?limit=20")
        if page and any(e["decision_set_id"] != target for e in page.get("events", [])):
            self.tally.crossing(f"events of {target} held another decision set's")

    def read_other(self) -> None:
        with self.tally.lock:
            # another user's: this user's other clients share its project (readable)
            others = sorted(ds for ds, u in self.tally.decision_sets.items() if u != self.user)
        if not others:
            return
        target = self.rng.choice(others)
        status, _, _ = self.client.call("GET", f"/decision-sets/{target}")
        if status != 404:
            self.tally.crossing(f"user {self.user} read another user's {target}: {status}")

    def abuse(self) -> None:
        target = self.own[0] if self.own else "ds-000000000000"
        method, path, raw, token = self.rng.choice(_bad_inputs(self.project, target))
        status, _, elapsed = self.client.call(
            method, path, raw, token=token, what=f"bad {method} {path[:40]}"
        )
        if 400 <= status < 500:
            self.tally.refusals.append(elapsed)


def run(clients: int, seconds: float, seed: int) -> dict[str, Any]:
    """Start the server, run the clients, report."""
    from agentic_mlops.api.auth import issue_dev_token
    from agentic_mlops.local.server import LocalServer
    from agentic_mlops.persistence import open_database
    from agentic_mlops.persistence.database import start_embedded
    from agentic_mlops.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="am-abuse-"))
    environ = {
        **os.environ,
        "AGENTIC_MLOPS_HOME": str(tmp / "home"),
        "AGENTIC_MLOPS_DEV_TOKEN_SECRET": SECRET,
    }
    url = os.environ.get("DATABASE_URL") or start_embedded(tmp / "pg", cleanup_mode="delete")
    tally = Tally()
    with open_database(url, max_size=24, migrate=True) as database:
        server = LocalServer(
            load_settings(environ=environ), database=database, host="127.0.0.1", port=0
        ).start_in_thread()
        try:
            projects = [
                database.store.create_project(f"abuse-{n}-{uuid.uuid4().hex[:6]}")[0].id
                for n in range(USERS)
            ]
            tokens = [
                issue_dev_token(f"user{n}", ["requester", "approver"], projects[n], secret=SECRET)
                for n in range(USERS)
            ]
            started = time.monotonic()

            def client_loop(index: int) -> None:
                session = _Session(index, seed, server, projects, tokens, tally)
                while time.monotonic() - started < seconds:
                    session.act()

            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(client_loop, range(clients)))
            elapsed_s = time.monotonic() - started

            # every decision set must have settled (paused for a person, or ended)
            deadline = time.monotonic() + 600
            unsettled = set(tally.decision_sets)
            while unsettled and time.monotonic() < deadline:
                unsettled = {
                    ds
                    for ds in unsettled
                    if database.store.get_decision_set(ds).status not in SETTLED
                }
                time.sleep(0.5)
        finally:
            server.stop_thread()
    reads = {"p50_ms": _pct(tally.reads, 0.5), "p95_ms": _pct(tally.reads, 0.95)}
    bare = {"p50_ms": _pct(tally.bare, 0.5), "p95_ms": _pct(tally.bare, 0.95)}
    return {
        "clients": clients,
        "seconds": round(elapsed_s, 1),
        "requests": sum(tally.statuses.values()),
        "statuses": dict(sorted(tally.statuses.items())),
        "server_errors_5xx": len(tally.server_errors),
        "server_error_examples": tally.server_errors[:5],
        "wrong_caller_or_decision_set": len(tally.crossings),
        "crossing_examples": tally.crossings[:5],
        "decision_sets": len(tally.decision_sets),
        "not_settled_at_end": len(unsettled),
        "websocket_frames": tally.frames,
        "reads": {**reads, "count": len(tally.reads)},
        "bare_handler": {**bare, "count": len(tally.bare)},
        "read_p95_ratio": round(reads["p95_ms"] / max(bare["p95_ms"], 0.01), 2),
        "bad_input_refused": {
            "count": len(tally.refusals),
            "p50_ms": _pct(tally.refusals, 0.5),
            "p95_ms": _pct(tally.refusals, 0.95),
        },
        "mean_read_ms": round(statistics.mean(tally.reads) * 1000, 2) if tally.reads else None,
    }


def main() -> int:
    """Run and print the report as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.seconds <= 600:
        parser.error("--clients 1..64 and --seconds 1..600")
    report = run(args.clients, args.seconds, args.seed)
    print(json.dumps(report, indent=2))
    failed = report["server_errors_5xx"] or report["wrong_caller_or_decision_set"]
    return 1 if failed or report["not_settled_at_end"] else 0


if __name__ == "__main__":
    sys.exit(main())
