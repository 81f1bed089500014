"""Benchmark the local server: live-event latency to N WebSocket subscribers, REST p95.

Usage: .venv/bin/python scripts/bench_streaming.py [--events 40] [--requests 25]

Event latency: for N = 1, 10 and 50 subscribers of one decision set, events are logged
one at a time (stored in the timeline, which publishes them through the ``@connections``
API to every subscriber); the latency runs from just before the event is logged to its
arrival at each client. Reported: p50/p95 per delivery, and p50/p95 of the time until the
*last* client has it. Baseline, in the same run and over the same server and clients:
the same frames posted straight to the ``@connections`` API (the transport alone, no
database, no pump).

REST: 20 concurrent clients (one persistent connection each) read a decision set with
``GET /decision-sets/{id}``; baseline: the same clients on ``GET /_local/health``, a bare
handler of the same server. Reported: p50/p95 latency and the ratio of the p95s.

Prints one JSON document. Uses DATABASE_URL when set, otherwise a throwaway embedded
PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

SECRET = "bench-dev-token-secret-0123456789abcdef0123456789"
WORKLOAD = (
    "Real-time fraud scoring API for card transactions, p99 under 50 ms at 300 requests"
    " per second, us-east-1, 200 GB of history, budget $6k per month, PCI DSS applies."
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 2)


def _summary(deliveries: list[float], last: list[float]) -> dict[str, float]:
    return {
        "p50_ms": _pct(deliveries, 0.50),
        "p95_ms": _pct(deliveries, 0.95),
        "all_clients_p50_ms": _pct(last, 0.50),
        "all_clients_p95_ms": _pct(last, 0.95),
    }


class Clients:
    """N WebSocket clients on one event loop, recording when each frame arrives."""

    def __init__(self, url: str, n: int) -> None:
        self.url, self.n = url, n
        self.arrivals: dict[tuple[int, Any], list[float]] = {}
        self.loop = asyncio.new_event_loop()
        self.sockets: list[Any] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)

    async def _open(self, decision_set_id: str) -> None:
        from websockets.asyncio.client import connect

        for index in range(self.n):
            socket = await connect(self.url, max_size=2**20)
            await socket.send(
                json.dumps({"action": "subscribe", "decision_set_id": decision_set_id})
            )
            while json.loads(await socket.recv())["type"] != "subscribed":
                pass
            self.sockets.append(socket)
            asyncio.get_running_loop().create_task(self._listen(index, socket))

    async def _listen(self, index: int, socket: Any) -> None:
        async for text in socket:
            arrived = time.perf_counter()
            message = json.loads(text)
            key = message.get("seq") or message.get("probe")
            self.arrivals.setdefault((index, key), []).append(arrived)

    def open(self, decision_set_id: str) -> None:
        self.run(self._open(decision_set_id))

    def received(self, key: Any) -> list[float]:
        return [self.arrivals[(i, key)][0] for i in range(self.n) if (i, key) in self.arrivals]

    def close(self) -> None:
        async def close_all() -> None:
            for socket in self.sockets:
                await socket.close()

        self.run(close_all())
        self.loop.call_soon_threadsafe(self.loop.stop)


def _wait_for(clients: Clients, key: Any, timeout: float = 10) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = clients.received(key)
        if len(got) == clients.n:
            return got
        time.sleep(0.0005)
    raise RuntimeError(f"only {len(clients.received(key))}/{clients.n} clients got {key}")


def measure_events(server: Any, database: Any, n: int, events: int) -> dict[str, Any]:
    """Event-logged → arrival latency for ``n`` subscribers, and the transport baseline."""
    from agentic_mlops.api.auth import issue_dev_token
    from agentic_mlops.persistence.models import NewEvent

    store = database.store
    project = store.get_or_create_project(f"bench-{uuid.uuid4().hex[:6]}")
    decision_set = store.create_decision_set(project.id, "benchmark").id
    token = issue_dev_token("bench", ["requester"], secret=SECRET)
    clients = Clients(f"{server.ws_url}?token={token}", n)
    clients.open(decision_set)
    with store.deliveries(decision_set) as round_:
        connections = [subscriber.connection_id for subscriber in round_.subscribers]
    poster = server.platform.streams.poster
    platform: list[float] = []
    platform_last: list[float] = []
    bare: list[float] = []
    bare_last: list[float] = []
    with ThreadPoolExecutor(16) as pool:
        for index in range(events):
            # the platform: log an event; the store's listener pumps it to everyone
            started = time.perf_counter()
            stored = store.append_events(
                decision_set,
                [NewEvent(type="reason-card", payload={"i": index}, dedupe_key=f"b{index}")],
            )
            arrived = _wait_for(clients, stored[0].seq)
            platform += [t - started for t in arrived]
            platform_last.append(max(arrived) - started)
            # the baseline: the same kind of frame posted straight to @connections
            probe = f"p{index}"
            frame = json.dumps({"probe": probe, "payload": {"i": index}})
            started = time.perf_counter()
            list(pool.map(lambda c, f=frame: poster(server.url, c, f), connections))
            arrived = _wait_for(clients, probe)
            bare += [t - started for t in arrived]
            bare_last.append(max(arrived) - started)
            time.sleep(0.01)
    clients.close()
    measured = _summary(platform, platform_last)
    baseline = _summary(bare, bare_last)
    return {
        "subscribers": n,
        "events": events,
        "platform": measured,
        "baseline_at_connections": baseline,
        "p95_ratio": round(measured["p95_ms"] / max(baseline["p95_ms"], 0.001), 2),
    }


def measure_rest(server: Any, concurrency: int, requests: int) -> dict[str, Any]:
    """REST read latency under concurrency, against the bare handler of the same server."""
    from agentic_mlops.api.auth import issue_dev_token

    token = issue_dev_token("bench", ["requester", "approver"], secret=SECRET)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    host, port = server.url.removeprefix("http://").split(":")
    first = http.client.HTTPConnection(host, int(port), timeout=60)
    first.request(
        "POST", "/projects", json.dumps({"name": f"bench-{uuid.uuid4().hex[:6]}"}), headers
    )
    project = json.loads(first.getresponse().read())["id"]
    first.request(
        "POST", f"/projects/{project}/decision-sets", json.dumps({"request": WORKLOAD}), headers
    )
    decision_set = json.loads(first.getresponse().read())["id"]
    while True:  # read the decision set once it has its plan, cost and policy
        first.request("GET", f"/decision-sets/{decision_set}", headers=headers)
        if json.loads(first.getresponse().read())["status"] == "awaiting_approval":
            break
        time.sleep(0.1)

    def client(path: str) -> list[float]:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            answer.read()
            times.append(time.perf_counter() - started)
            assert answer.status == 200, answer.status
        return times

    def load(path: str) -> list[float]:
        with ThreadPoolExecutor(concurrency) as pool:
            return [t for times in pool.map(client, [path] * concurrency) for t in times]

    results: dict[str, list[float]] = {"platform": [], "baseline": []}
    for _ in range(3):  # interleaved rounds
        results["baseline"] += load("/_local/health")
        results["platform"] += load(f"/decision-sets/{decision_set}")
    platform = {"p50_ms": _pct(results["platform"], 0.5), "p95_ms": _pct(results["platform"], 0.95)}
    baseline = {"p50_ms": _pct(results["baseline"], 0.5), "p95_ms": _pct(results["baseline"], 0.95)}
    return {
        "concurrent_clients": concurrency,
        "requests": len(results["platform"]),
        "get_decision_set": platform,
        "baseline_bare_handler": baseline,
        "p95_ratio": round(platform["p95_ms"] / max(baseline["p95_ms"], 0.001), 2),
        "mean_ms": round(statistics.mean(results["platform"]) * 1000, 2),
    }


def main() -> int:
    """Run the benchmark and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--requests", type=int, default=25, help="per client and round")
    parser.add_argument("--subscribers", default="1,10,50")
    args = parser.parse_args()

    os.environ["AGENTIC_MLOPS_DEV_TOKEN_SECRET"] = SECRET
    tmp = tempfile.mkdtemp(prefix="am-bench-ws-")
    os.environ.setdefault("AGENTIC_MLOPS_ARTIFACT_DIR", str(Path(tmp) / "artifacts"))
    os.environ.setdefault("AGENTIC_MLOPS_REPOS_DIR", str(Path(tmp) / "repos"))
    from agentic_mlops.local.server import LocalServer
    from agentic_mlops.persistence import open_database
    from agentic_mlops.persistence.database import start_embedded
    from agentic_mlops.settings import load_settings

    url = os.environ.get("DATABASE_URL") or start_embedded(Path(tmp) / "pg", cleanup_mode="delete")
    with open_database(url, max_size=24, migrate=True) as database:
        server = LocalServer(load_settings(), database=database, port=0).start_in_thread()
        try:
            streaming = [
                measure_events(server, database, int(n), args.events)
                for n in args.subscribers.split(",")
            ]
            rest = measure_rest(server, 20, args.requests)
        finally:
            server.stop_thread()
    print(json.dumps({"websocket_event_latency": streaming, "rest_read": rest}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
