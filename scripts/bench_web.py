"""Benchmark the web app: JavaScript shipped on first load, serve → first render, and the
Reason Card latency (event stored → card on screen).

Usage: .venv/bin/python scripts/bench_web.py [--browser /usr/bin/chromium] [--home DIR]

- Bundle: the JavaScript and CSS ``index.html`` loads (the committed build), raw and gzipped.
- Serve → first render: ``agentic-mlops serve --port 0`` is started (embedded PostgreSQL
  in a fresh home unless ``--home`` names one); timed from the process start to the URL it
  prints, and to the app's first rendered page (the sign-in form) in chromium (launched
  beforehand, not counted), then to the signed-in projects page.
- Card latency: a request is made and its page opened; the answers and the approval are
  sent over REST, and every Reason Card that arrives live is timed from the event's
  ``created_at`` (stored, server clock: same machine) to the card's element being
  rendered, and, as the baseline in the same run, from the WebSocket frame's arrival in
  the page to the card rendered. Reported: p50/p95 over the run.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEB_DIST = ROOT / "shared" / "agentic_mlops" / "local" / "web_dist"
REQUEST = "Real-time fraud scoring API for card transactions, us-east-1, 200 GB of history"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 2)


def bundle() -> dict[str, Any]:
    index = (WEB_DIST / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', index)
    out: dict[str, Any] = {"files": {}}
    for kind in ("js", "css"):
        raw = gz = 0
        for asset in assets:
            if asset.endswith(f".{kind}"):
                data = (WEB_DIST / asset).read_bytes()
                raw += len(data)
                gz += len(gzip.compress(data, 9))
                out["files"][asset] = len(data)
        out[f"{kind}_bytes"] = raw
        out[f"{kind}_gzip_bytes"] = gz
        out[f"{kind}_gzip_kb"] = round(gz / 1024, 1)
    return out


def call(base: str, method: str, path: str, token: str | None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--home", help="AGENTIC_MLOPS_HOME of the server (default: a fresh one)")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    result: dict[str, Any] = {"bundle": bundle()}
    home = args.home or tempfile.mkdtemp(prefix="bench-web-")
    exe = Path(sys.executable).with_name("agentic-mlops")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.browser)
        page = browser.new_page()
        started = time.perf_counter()
        server = subprocess.Popen(
            [str(exe), "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "AGENTIC_MLOPS_HOME": home, "HOME": home},
        )
        try:
            url = None
            assert server.stdout is not None
            for line in server.stdout:
                found = re.search(r"Web app\s+(\S+)", line)
                if found:
                    url = found.group(1)
                    break
            if url is None:
                raise SystemExit("serve printed no web app URL")
            printed = time.perf_counter()
            page.goto(url)
            expect(page.get_by_label("User name")).to_be_visible(timeout=60_000)
            rendered = time.perf_counter()
            page.get_by_label("User name").fill("bench")
            page.get_by_role("checkbox", name="approver").check()
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Projects")).to_be_visible()
            signed_in = time.perf_counter()
            result["serve_to_url_printed_ms"] = round((printed - started) * 1000)
            result["serve_to_first_render_ms"] = round((rendered - started) * 1000)
            result["url_to_first_render_ms"] = round((rendered - printed) * 1000)
            result["serve_to_signed_in_projects_ms"] = round((signed_in - started) * 1000)

            base = url.removesuffix("/app/")
            token = page.evaluate("() => sessionStorage.getItem('agentic-mlops.token')")
            project = call(base, "POST", "/projects", token, {"name": f"bench-{time.time_ns()}"})
            ds = call(base, "POST", f"/projects/{project['id']}/decision-sets", token,
                      {"request": REQUEST})  # fmt: skip
            page.goto(f"{url}#/ds/{ds['id']}/run")
            expect(page.locator("form.questions")).to_be_visible(timeout=60_000)
            before = page.get_by_test_id("reason-card").count()
            answers = {"budget": "$6,000/month", "latency_p99_ms": "50 ms"}
            call(base, "POST", f"/decision-sets/{ds['id']}/answers", token, {"answers": answers})
            waiting = page.get_by_test_id("reason-card").filter(has_text="gate hitl")
            expect(waiting).to_have_count(1, timeout=120_000)
            view = call(base, "GET", f"/decision-sets/{ds['id']}", token)
            plan_hash = view["pending"]["request"]["plan_hash"]
            decision = {"decision": "approve", "plan_hash": plan_hash}
            call(base, "POST", f"/decision-sets/{ds['id']}/approval", token, decision)
            done = page.get_by_test_id("reason-card").filter(has_text="diff and persist")
            expect(done).to_have_count(1, timeout=300_000)
            timing = page.evaluate(
                "() => ({origin: performance.timeOrigin, frames: window.__agentic.frames,"
                " rendered: window.__agentic.rendered})"
            )
            path = f"/decision-sets/{ds['id']}/events?type=reason-card&limit=500"
            events = call(base, "GET", path, token)["events"]
            stored_to_card: list[float] = []
            frame_to_card: list[float] = []
            for event in events[before:]:
                seq = str(event["seq"])
                if seq not in timing["rendered"] or seq not in timing["frames"]:
                    continue
                shown = timing["origin"] + timing["rendered"][seq]
                stored = datetime.fromisoformat(event["created_at"]).timestamp() * 1000
                stored_to_card.append(shown - stored)
                frame_to_card.append(timing["rendered"][seq] - timing["frames"][seq])
            result["reason_cards_live"] = len(stored_to_card)
            result["stored_to_card_ms"] = {
                "p50": pct(stored_to_card, 0.5),
                "p95": pct(stored_to_card, 0.95),
                "mean": round(statistics.fmean(stored_to_card), 2),
            }
            result["frame_to_card_ms (baseline: the frame's arrival)"] = {
                "p50": pct(frame_to_card, 0.5),
                "p95": pct(frame_to_card, 0.95),
            }
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
            browser.close()
            if not args.home:
                shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
