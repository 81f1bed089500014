"""After approval: code generation, validation, bundles, history, revisions, Change Summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from git_server import TOKEN, USER, serve_git
from harness import Harness

from agentic_mlops.artifacts.bundle import read_zip
from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.errors import Conflict, InvalidInput, NodeFailed
from agentic_mlops.persistence import Database, PostgresStore
from agentic_mlops.providers.offline import OfflineProvider

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]


def approve(comment: str | None = None) -> ApprovalDecision:
    return ApprovalDecision(decision="approve", comment=comment, approver="alice")


def approved_run(engine: Harness, project: str, request: str = CHURN, comment=None):
    paused = engine.start(project, request)
    assert paused.status == "awaiting_approval"
    return engine.decide(paused.decision_set.id, approve(comment))


def test_an_approved_plan_becomes_a_validated_bundle_and_a_commit(
    engine: Harness, database: Database, recorder
) -> None:
    done = approved_run(engine, "delivery-basic", comment="use spot instances for training")
    state = done.state

    assert done.status == "approved"
    assert state.validation.passed, state.validation
    assert {v.name for v in state.validation.validators} >= {
        "lint",
        "terraform-parse",
        "terraform-fmt",
        "iac-policy",
        "checkov",
        "secrets",
        "tests",
        "pipeline",
    }
    assert state.validation.outcome in {"passed", "passed_with_skips"}
    assert [s.validator for s in state.validation.skips] == [
        v.name for v in state.validation.validators if v.status == "skipped"
    ]
    terraform = next(v for v in state.validation.validators if v.name == "terraform-validate")
    assert terraform.status in {"passed", "skipped"}
    files = read_zip(engine.artifacts.get(state.bundle.key))
    assert "reports/validation.json" in files and "reports/validation.md" in files
    assert json.loads(files["reports/validation.json"])["passed"] is True
    assert {f.path for f in state.repository.files} <= set(files)
    # the approver's comment reaches the generated code
    assert "spot" in files["config/pipeline.json"].decode().lower()
    # the decision set records its commit, which holds the plan documents
    assert database.store.get_decision_set(done.decision_set.id).commit_sha == state.commit.sha
    assert "plan/architecture.md" in state.commit.files
    assert "validation-report" in recorder.types()


def test_a_rejected_plan_generates_nothing(engine: Harness, database: Database) -> None:
    paused = engine.start("delivery-reject", CHURN)
    done = engine.decide(
        paused.decision_set.id, ApprovalDecision(decision="reject", comment="no", approver="bob")
    )
    assert done.status == "rejected"
    assert done.state.repository is None and done.state.bundle is None
    assert done.state.commit is None
    nodes = {r.node for r in database.store.list_runs(paused.decision_set.id)}
    assert not nodes & {"codegen", "validators", "diff_and_persist"}


def test_the_same_input_gives_the_same_bundle_and_storing_it_again_is_a_no_op(
    engine: Harness,
) -> None:
    first = approved_run(engine, "delivery-determinism-a").state
    second = approved_run(engine, "delivery-determinism-b").state
    assert first.repository.source_sha256 == second.repository.source_sha256
    assert first.bundle.sha256 == second.bundle.sha256
    assert first.bundle.key == second.bundle.key
    again = engine.artifacts.put(engine.artifacts.get(first.bundle.key), kind="bundles")
    assert again.created is False and again.key == first.bundle.key


@pytest.mark.parametrize(
    ("change", "field", "document"),
    [
        ("move to eu-central-1", "region", "plan/architecture.md"),
        ("budget is now $800/month", "budget", "plan/cost.md"),
    ],
)
def test_a_revision_carries_its_change_and_its_change_summary_names_it(
    engine: Harness, change: str, field: str, document: str
) -> None:
    parent = approved_run(engine, f"delivery-revise-{field}")
    revision = engine.revise(parent.decision_set.id, change)
    assert revision.status == "awaiting_approval"
    assert revision.decision_set.parent_id == parent.decision_set.id
    done = engine.decide(revision.decision_set.id, approve())

    summary = engine.change_summary(done.decision_set.id)
    assert summary.parent_id == parent.decision_set.id
    assert summary.changed_constraints == [field]
    assert summary.from_commit == parent.state.commit.sha
    assert summary.to_commit == done.state.commit.sha
    changed_files = {f.path for f in summary.files}
    assert document in changed_files
    assert "plan/constraints.json" in changed_files
    assert all(f.status == "M" for f in summary.files)
    assert f"diff --git a/{document} b/{document}" in summary.git_diff
    constraint_paths = {c.path for c in summary.fields if c.path.startswith("constraints.")}
    assert all(p.startswith(f"constraints.{field}") for p in constraint_paths)
    if field == "region":
        region = next(c for c in summary.fields if c.path == "constraints.region")
        assert (region.old, region.new) == ("eu-west-1", "eu-central-1")
        assert done.state.plan.region == "eu-central-1"
    else:
        assert done.state.constraints.budget.monthly_usd == 800


class _CountingFeedback(OfflineProvider):
    def __init__(self) -> None:
        super().__init__()
        self.comments: list[str] = []

    def interpret_feedback(self, comment, constraints):
        self.comments.append(comment)
        return super().interpret_feedback(comment, constraints)


def test_a_revision_reads_its_change_once(database: Database) -> None:
    # Given an approved run on a provider that counts how often a change is read
    provider = _CountingFeedback()
    counted = Harness(database, provider)
    try:
        parent = approved_run(counted, "delivery-revise-once")
        assert provider.comments == []

        # When a revision is asked for and run to its approval gate
        revision = counted.revise(parent.decision_set.id, "budget is now $800/month")
    finally:
        counted.close()

    # Then the change was read once (when asked for, to refuse a change that alters
    # nothing), and the revision's node used that reading
    assert revision.status == "awaiting_approval"
    assert provider.comments == ["budget is now $800/month"]
    assert revision.state.constraints.budget.monthly_usd == 800


def test_a_revision_needs_a_decided_parent_and_a_meaningful_change(engine: Harness) -> None:
    paused = engine.start("delivery-revise-bad", CHURN)
    with pytest.raises(Conflict, match="awaiting_approval"):
        engine.revise(paused.decision_set.id, "move to eu-central-1")
    done = engine.decide(paused.decision_set.id, approve())
    with pytest.raises(InvalidInput, match="changes no constraint"):
        engine.revise(done.decision_set.id, "make it nicer")
    with pytest.raises(InvalidInput, match="empty"):
        engine.revise(done.decision_set.id, "  ")


class _CrashAfter(PostgresStore):
    def __init__(self, pool, node: str) -> None:
        super().__init__(pool)
        self.node, self.tripped = node, False

    def complete_run(self, run, events):
        stored = super().complete_run(run, events)
        if run.node == self.node and not self.tripped:
            self.tripped = True
            raise RuntimeError("crash after " + self.node)
        return stored


@pytest.mark.parametrize("crash_after", ["codegen", "validators"])
def test_a_crash_between_codegen_and_persist_generates_and_commits_once(
    database: Database, crash_after: str
) -> None:
    store = _CrashAfter(database.pool, crash_after)
    crashing = Harness(Database(pool=database.pool, store=store), OfflineProvider())
    paused = crashing.start(f"delivery-crash-{crash_after}", CHURN)
    with pytest.raises(NodeFailed, match=f"RuntimeError in {crash_after}"):
        crashing.decide(paused.decision_set.id, approve())

    outcome = Harness(database, OfflineProvider()).resume(paused.decision_set.id)

    assert outcome.status == "approved"
    runs = {r.node: r.executions for r in database.store.list_runs(paused.decision_set.id)}
    assert runs["codegen"] == 1 and runs["validators"] == 1 and runs["diff_and_persist"] == 1
    history = crashing.repositories(outcome.decision_set.project_id).log()
    assert [entry for entry in history if paused.decision_set.id in entry["message"]]
    assert len([e for e in history if paused.decision_set.id in e["message"]]) == 1


def test_an_approved_run_pushes_its_repository_when_delivery_is_configured(
    database: Database, tmp_path: Path
) -> None:
    with serve_git(tmp_path) as (url, team):
        engine = Harness(
            database,
            OfflineProvider(),
            env={
                "AGENTIC_MLOPS_DELIVERY_REMOTE": url,
                "AGENTIC_MLOPS_DELIVERY_USERNAME": USER,
                "AGENTIC_MLOPS_DELIVERY_TOKEN": TOKEN,
            },
        )
        done = approved_run(engine, "delivery-push")
        pushed = done.state.commit.delivery
        assert pushed is not None and pushed.created
        assert pushed.branch == f"agentic-mlops/{done.decision_set.id}"
        commit = team[team.refs[f"refs/heads/{pushed.branch}".encode()]]
        assert b"\n\n# Decision record: " in commit.message
        assert {f.path.split("/")[0] for f in done.state.repository.files} >= {"pipelines", "infra"}
        assert TOKEN not in pushed.remote
