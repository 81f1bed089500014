"""``serve`` killed with SIGKILL in the middle of delivery: on restart it resumes every
interrupted run by itself, and the runs end as an uninterrupted control run does — the same
events, one commit each, the same bundles — with no node executed twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from api_client import DEV_SECRET, Rest, token
from harness import Harness

from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.persistence import Database
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.validation.tools import ValidationTools

pytestmark = pytest.mark.integration

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
WORKLOADS = ("batch_tabular", "realtime_low_latency", "regulated_phi")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Serve:
    """``agentic-mlops serve`` as a real process."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agentic_mlops.cli", "serve", "--port", str(port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                assert self.process.poll() is None, log.read_text()
                time.sleep(0.2)
        raise AssertionError("serve did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._log.close()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self._log.close()
        return code


def _timeline(database: Database, decision_set_id: str) -> list[tuple[str, str | None]]:
    """What happened, in order (what each event says happened, not when)."""
    return [(e.type, e.node) for e in database.store.list_events(decision_set_id)]


def _server_artifacts(env: dict[str, str]) -> Any:
    from agentic_mlops.composition import create_artifact_store_for
    from agentic_mlops.settings import load_settings

    return create_artifact_store_for(load_settings(environ=env))


def _differing_files(expected: bytes, actual: bytes) -> dict[str, str]:
    """Path -> how it differs, between two bundles."""
    import difflib

    from agentic_mlops.artifacts.bundle import read_zip

    want, got = read_zip(expected), read_zip(actual)
    differing: dict[str, str] = {}
    for path in sorted(set(want) | set(got)):
        if want.get(path) != got.get(path):
            diff = difflib.unified_diff(
                want.get(path, b"").decode().splitlines(),
                got.get(path, b"").decode().splitlines(),
                lineterm="",
                n=0,
            )
            differing[path] = "\n".join(list(diff)[2:12])
    return differing


def _cards(database: Database, ds_id: str) -> Counter[str]:
    return Counter(e.node for e in database.store.list_events(ds_id, event_type="reason-card"))


def _delivering(database: Database, ids: list[str]) -> bool:
    for ds_id in ids:
        nodes = {run.node for run in database.store.list_runs(ds_id)}
        if "codegen" in nodes and "diff_and_persist" not in nodes:
            return True
    return False


def test_a_killed_server_resumes_every_interrupted_run_on_restart(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    # Given the control: the workloads run uninterrupted, in process
    control: dict[str, Any] = {}
    harness = Harness(database, OfflineProvider())
    for name in WORKLOADS:
        workload = GOLDEN[name]
        paused = harness.start(f"control-{name}", workload["request"], workload["answers"])
        decision = ApprovalDecision(decision="approve", comment=workload["comment"], approver="ops")
        done = harness.decide(paused.decision_set.id, decision)
        assert done.status == "approved"
        control[name] = done
    control_artifacts = harness.artifacts
    harness.close()

    # And a server, as a process, running the same workloads up to delivery
    tools = ValidationTools.defaults()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AGENTIC_MLOPS_HOME": str(tmp_path / "home"),
        "AGENTIC_MLOPS_DEV_TOKEN_SECRET": DEV_SECRET,
        "AGENTIC_MLOPS_WORKERS": "2",
        # the same tools as the control's validators (whose home holds them)
        "AGENTIC_MLOPS_CHECKOV": str(tools.checkov or ""),
        "AGENTIC_MLOPS_VALIDATOR_TOOLS": str(tools.tools_dir),
    }
    port = _free_port()
    server = Serve(env, port, tmp_path / "serve.log")
    admin = Rest(server.url, token("ops", "requester", "approver"))
    status, project = admin.post("/projects", {"name": f"crash-{uuid.uuid4().hex[:6]}"})
    assert status == 201, project
    ids: dict[str, str] = {}
    for name in WORKLOADS:
        workload = GOLDEN[name]
        status, body = admin.post(
            f"/projects/{project['id']}/decision-sets",
            {"request": workload["request"], "answers": workload["answers"]},
        )
        assert status == 202, body
        ids[name] = body["id"]
    for name, ds_id in ids.items():
        view = admin.wait_status(ds_id, {"awaiting_approval"})
        status, _ = admin.post(
            f"/decision-sets/{ds_id}/approval",
            {
                "decision": "approve",
                "comment": GOLDEN[name]["comment"],
                "plan_hash": view["pending"]["request"]["plan_hash"],
            },
        )
        assert status == 200

    # When the server is killed while a run is in its delivery nodes
    deadline = time.monotonic() + 120
    while not _delivering(database, list(ids.values())):
        assert time.monotonic() < deadline, "no run reached its delivery nodes"
        time.sleep(0.02)
    server.kill()
    interrupted = [
        ds_id
        for ds_id in ids.values()
        if database.store.get_decision_set(ds_id).status not in {"approved", "failed"}
    ]
    assert interrupted, "every run finished before the kill: nothing was interrupted"

    # Then a restarted server resumes them all by itself (no `resume` command)
    restarted = Serve(env, port, tmp_path / "serve.log")
    try:
        for ds_id in ids.values():
            assert admin.wait_status(ds_id, {"approved", "failed"}, timeout=300)["status"] == (
                "approved"
            )
    finally:
        assert restarted.stop() == 0
    assert "Resuming" in (tmp_path / "serve.log").read_text()

    # And each ended as its control did: same events, one commit, same bundle, and no node
    # ran more often than in its control (a comment that changes the constraints re-plans)
    for name, ds_id in ids.items():
        final = database.store.read_decision_set(ds_id)
        expected = control[name]
        if final.state["bundle"]["sha256"] != expected.state.bundle.sha256:
            differing = _differing_files(
                control_artifacts.get(expected.state.bundle.key),
                _server_artifacts(env).get(final.state["bundle"]["key"]),
            )
            raise AssertionError(f"{name}: the bundle differs from its control in {differing}")
        assert _timeline(database, ds_id) == _timeline(database, expected.decision_set.id), name
        runs = database.store.list_runs(ds_id)
        assert all(run.executions == 1 for run in runs), [(r.node, r.executions) for r in runs]
        cards = _cards(database, ds_id)
        assert cards == _cards(database, expected.decision_set.id), name
    from agentic_mlops.composition import create_repositories
    from agentic_mlops.settings import load_settings

    with create_repositories(load_settings())(project["id"]) as repository:
        log = repository.log()
    for ds_id in ids.values():
        assert sum(ds_id in entry["message"] for entry in log) == 1
