"""One node at a time from the checkpoint: what the node runner and wait registrar do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import Harness

from agentic_mlops.errors import Conflict, InvalidInput
from agentic_mlops.persistence import Database
from agentic_mlops.workflow.registry import NODE_ORDER

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]
CHURN_WITHOUT_BUDGET = CHURN.replace(" under $1,500/month,", "")


def test_stepping_node_by_node_matches_the_registry_order(
    engine: Harness, database: Database
) -> None:
    # Given a prepared decision set (initial checkpoint, no node run) without a budget
    ds = engine.prepare("stepping", CHURN_WITHOUT_BUDGET)
    assert engine.status(ds.id).state.constraints is None

    # When the intake nodes are stepped, the coverage says "ask"
    assert engine.step(ds.id, "extract_constraints")["node"] == "extract_constraints"
    assert engine.step(ds.id, "coverage_check")["coverage_complete"] is False
    engine.step(ds.id, "adaptive_questioner")
    wait = engine.open_gate(ds.id, "gate_user_input", "token-question-1")
    assert wait.kind == "question" and engine.task_token(wait.id) == "token-question-1"
    assert "task_token" not in wait.model_dump()

    # And once the answer is recorded, the next node finishes the gate first
    database.store.decide_wait(wait.id, {"answers": {"budget": "$1,500/month"}, "by": "t"}, "t")
    engine.step(ds.id, "extract_constraints")
    assert engine.step(ds.id, "coverage_check")["coverage_complete"] is True
    for node in NODE_ORDER[NODE_ORDER.index("planner") : NODE_ORDER.index("gate_hitl")]:
        assert engine.step(ds.id, node)["status"] == "running"
    approval = engine.open_gate(ds.id, "gate_hitl", "token-approval-1")
    assert engine.status(ds.id).status == "awaiting_approval"
    database.store.decide_wait(
        approval.id, {"decision": "approve", "comment": None, "approver": "t"}, "t"
    )
    assert engine.step(ds.id, "process_approval_feedback")["decision"] == "approved"
    for node in ("codegen", "validators"):
        engine.step(ds.id, node)
    result = engine.step(ds.id, "diff_and_persist")

    # Then the run is approved with a commit, every node ran exactly once per input
    assert result["status"] == "approved"
    final = engine.status(ds.id)
    assert final.state.commit is not None and final.state.validation.passed
    runs = database.store.list_runs(ds.id)
    assert all(r.executions == 1 for r in runs)


def test_out_of_order_replays_and_unknown_nodes(engine: Harness, database: Database) -> None:
    ds = engine.prepare("stepping-order", CHURN)
    with pytest.raises(Conflict, match="not next"):
        engine.step(ds.id, "planner")
    with pytest.raises(InvalidInput, match="unknown node"):
        engine.step(ds.id, "make_coffee")

    first = engine.step(ds.id, "extract_constraints")
    again = engine.step(ds.id, "extract_constraints")  # the response was lost; replayed

    assert first["replay"] is False and again["replay"] is True
    assert {k: v for k, v in again.items() if k != "replay"} == {
        k: v for k, v in first.items() if k != "replay"
    }
    assert [r.executions for r in database.store.list_runs(ds.id)] == [1]


def test_a_gate_still_waiting_cannot_be_passed(engine: Harness) -> None:
    ds = engine.prepare("stepping-wait", CHURN)
    for node in NODE_ORDER[: NODE_ORDER.index("gate_hitl")]:
        if node not in {"adaptive_questioner", "gate_user_input"}:
            engine.step(ds.id, node)
    engine.open_gate(ds.id, "gate_hitl", "token-x")
    with pytest.raises(Conflict, match="still waiting for its approval"):
        engine.step(ds.id, "process_approval_feedback")


def test_failure_reported_by_the_engine_is_recorded_and_quarantined(engine: Harness) -> None:
    ds = engine.prepare("stepping-fail", CHURN)
    error = {"Error": "ProviderUnavailable", "Cause": "every provider is down"}

    outcome = engine.fail(ds.id, error, key="exec-1")
    again = engine.fail(ds.id, error, key="exec-1")

    assert outcome.status == "failed" and again.status == "failed"
    complete = engine.store.list_events(ds.id, event_type="run-complete")
    assert len(complete) == 1
    payload = complete[0].payload
    assert payload["outcome"] == "failed" and payload["error"] == "provider_unavailable"
    assert payload["quarantine"].startswith("quarantine/")
    assert engine.artifacts.exists(payload["quarantine"])
