"""The embedded engine end to end on real PostgreSQL: intake loop, approval, resume, crashes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from harness import Harness

from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.errors import AlreadyDecided, Conflict, InvalidInput, NodeFailed
from agentic_mlops.persistence import Database, PostgresStore
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.workflow.registry import MAIN_NODES, NODE_ORDER

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]
CHURN_WITHOUT_BUDGET = CHURN.replace(" under $1,500/month,", "")
APPROVE = ApprovalDecision(decision="approve", comment=None, approver="alice")


def test_missing_fields_are_asked_and_the_answers_resume_the_run(engine: Harness, recorder):
    # Given a request without a budget
    outcome = engine.start("wf-intake", CHURN_WITHOUT_BUDGET)

    # Then the run pauses with one question for the budget
    assert outcome.status == "awaiting_input"
    assert [q["field"] for q in outcome.pending.request["questions"]] == ["budget"]
    assert outcome.state.plan is None
    assert "question" in recorder.types()

    # When the user answers, the run goes through planning to the approval gate
    outcome = engine.answer(outcome.decision_set.id, {"budget": "$1,500/month"}, by="bob")
    assert outcome.status == "awaiting_approval"
    assert outcome.state.constraints.budget.monthly_usd == 1500
    assert outcome.state.answers == {"budget": "$1,500/month"}
    assert outcome.state.intake_rounds == 1
    assert outcome.pending.kind == "approval"

    # And the same question cannot be answered twice
    with pytest.raises(Conflict):
        engine.answer(outcome.decision_set.id, {"budget": "$900/month"}, by="bob")


def test_another_engine_instance_continues_a_paused_run(database: Database):
    # Given a run paused at the approval gate by one engine (one process)
    first = Harness(database, OfflineProvider())
    paused = first.start("wf-handover", CHURN)
    assert paused.status == "awaiting_approval"

    # When a new engine (another process) approves it
    second = Harness(database, OfflineProvider())
    done = second.decide(
        paused.decision_set.id,
        ApprovalDecision(
            decision="approve", comment="use spot instances for training", approver="carol"
        ),
    )

    # Then the approval feedback updates the constraints and the run completes
    assert done.status == "approved"
    assert done.state.constraints.use_spot_training is True
    assert [c.field for c in done.state.feedback.changes] == ["use_spot_training"]
    runs = database.store.list_runs(paused.decision_set.id)
    assert {r.node for r in runs} >= set(MAIN_NODES)


def test_rejection_ends_the_run_and_a_second_decision_is_refused(engine: Harness, recorder):
    outcome = engine.start("wf-reject", CHURN)
    ds_id = outcome.decision_set.id

    rejected = engine.decide(
        ds_id, ApprovalDecision(decision="reject", comment="too costly", approver="dave")
    )
    assert rejected.status == "rejected"
    assert rejected.state.status == "rejected"
    complete = [m for m in recorder.messages if m["type"] == "run-complete"]
    assert [m["payload"]["outcome"] for m in complete] == ["rejected"]

    with pytest.raises(AlreadyDecided, match="already rejected"):
        engine.decide(ds_id, APPROVE)
    assert engine.status(ds_id).status == "rejected"


def test_timeline_is_ordered_and_linked_to_checkpoints(engine: Harness, database: Database):
    outcome = engine.start("wf-timeline", CHURN_WITHOUT_BUDGET, {"budget": "1500"})
    engine.decide(outcome.decision_set.id, APPROVE)

    events = database.store.list_events(outcome.decision_set.id)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    cards = [e.payload["node"] for e in events if e.type == "reason-card"]
    assert cards == [n for n in NODE_ORDER if n not in {"adaptive_questioner", "gate_user_input"}]
    assert Counter(e.type for e in events)["run-complete"] == 1
    # every node event points at the checkpoint written after its step, in step order
    node_events = [e for e in events if e.step is not None]
    assert node_events and all(e.checkpoint_id for e in node_events)
    config = {"configurable": {"thread_id": outcome.decision_set.id}}
    for event in node_events:
        checkpoint = database.checkpointer.get_tuple(
            {"configurable": {**config["configurable"], "checkpoint_id": event.checkpoint_id}}
        )
        assert checkpoint.metadata["step"] == event.step


def test_bad_answers_change_nothing(engine: Harness, database: Database):
    before = len(database.store.list_decision_sets())
    with pytest.raises(InvalidInput, match="unknown field 'colour'"):
        engine.start("wf-bad", CHURN, {"colour": "blue"})
    with pytest.raises(InvalidInput, match="budget"):
        engine.start("wf-bad", CHURN, {"budget": "lots"})
    with pytest.raises(InvalidInput, match="empty"):
        engine.start("wf-bad", "   ")
    assert len(database.store.list_decision_sets()) == before


class _PowerCutStore(PostgresStore):
    """Loses power right after a node's run is committed, before LangGraph checkpoints."""

    def __init__(self, pool, node: str) -> None:
        super().__init__(pool)
        self._node = node
        self.tripped = False

    def complete_run(self, run, events):
        stored = super().complete_run(run, events)
        if run.node == self._node and not self.tripped:
            self.tripped = True
            raise RuntimeError("power cut")
        return stored


def test_a_node_committed_before_a_crash_is_not_executed_again(database: Database):
    # Given a crash right after critic_cost recorded its run, before its checkpoint
    store = _PowerCutStore(database.pool, "critic_cost")
    crashing = Harness(Database(pool=database.pool, store=store), OfflineProvider())
    with pytest.raises(NodeFailed, match="RuntimeError in critic_cost") as failed:
        crashing.start("wf-powercut", CHURN)
    ds_id = failed.value.decision_set_id
    assert ds_id == database.store.list_decision_sets()[0].decision_set.id
    assert database.store.get_decision_set(ds_id).status == "failed"

    # When the run is resumed from its checkpoint
    outcome = Harness(database, OfflineProvider()).resume(ds_id)

    # Then it reaches the gate, and no node was executed twice (critic_cost came from cache)
    assert outcome.status == "awaiting_approval"
    runs = database.store.list_runs(ds_id)
    assert {r.node: r.executions for r in runs} == {
        n: 1
        for n in NODE_ORDER[: NODE_ORDER.index("gate_hitl")]
        if n not in {"adaptive_questioner", "gate_user_input"}
    }
    cost_events = database.store.list_events(ds_id, event_type="cost-update")
    assert len(cost_events) == 1


@pytest.mark.parametrize("kill_after", ["planner", "critic_cost"])
def test_a_killed_process_resumes_from_the_checkpoint(
    database: Database, database_url: str, kill_after: str
):
    # Given a process killed (SIGKILL) right after a node's Reason Card was stored
    project = f"wf-kill-{kill_after}"
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("crash_runner.py")),
            database_url,
            project,
            kill_after,
            CHURN,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    ds_id = proc.stdout.split()[3]
    completed_before = {r.node for r in database.store.list_runs(ds_id)}
    assert kill_after in completed_before
    assert "gate_hitl" not in completed_before

    # When another process resumes it
    outcome = Harness(database, OfflineProvider()).resume(ds_id)

    # Then it reaches the approval gate and no completed node ran twice
    assert outcome.status == "awaiting_approval"
    assert all(r.executions == 1 for r in database.store.list_runs(ds_id))
    cards = [e.payload["node"] for e in database.store.list_events(ds_id, event_type="reason-card")]
    assert len(cards) == len(set(cards)), cards
    assert outcome.state.cost is not None and outcome.state.policy.overall == "pass"
