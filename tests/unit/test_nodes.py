"""The workflow's node functions, called directly, and the two human gates in a graph.

Node functions get a :class:`MLOpsProjectState` and a :class:`NodeContext`; the gates call
LangGraph's ``interrupt()``, so they are exercised through the real graph compiled with an
in-memory checkpointer and an in-memory :class:`PlatformStore` (no PostgreSQL).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeStore
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agentic_mlops.domain import (
    ConstraintSchema,
    CostEstimate,
    CoverageReport,
    FeedbackResult,
    MLOpsProjectState,
    Plan,
    PolicyReport,
    Question,
    ReasonCard,
    TechnicalCritique,
)
from agentic_mlops.providers.offline.provider import OfflineProvider
from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.graph import build_graph
from agentic_mlops.workflow.instrument import NodeContext, RunContext
from agentic_mlops.workflow.registry import DELIVERY_NODES

GOLDEN: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "golden" / "workloads.json").read_text(encoding="utf-8")
)
GOLDEN_REGIONS = {
    "batch_tabular": "eu-west-1",
    "realtime_low_latency": "us-east-1",
    "streaming": "eu-central-1",
    "llm_fine_tuning": "us-west-2",
    "regulated_phi": "us-east-2",
}
PROVIDER = OfflineProvider()
SPOT_COMMENT = "use spot instances for training"


# helpers --------------------------------------------------------------------------------


def make_ctx(node: str) -> NodeContext:
    return NodeContext(
        node=node, provider=PROVIDER, inputs_digest="x" * 64, started_at=datetime.now(UTC)
    )


def new_state(request: str, answers: dict[str, str] | None = None, **fields) -> MLOpsProjectState:
    return MLOpsProjectState(
        decision_set_id="ds-test",
        project_id="prj-test",
        request=request,
        answers=answers or {},
        **fields,
    )


def apply(state: MLOpsProjectState, update: dict[str, Any]) -> MLOpsProjectState:
    """Merge a node's JSON update into the state, as LangGraph's channels do."""
    return MLOpsProjectState.model_validate({**state.model_dump(mode="json"), **update})


def run_node(name: str, state: MLOpsProjectState) -> tuple[dict[str, Any], NodeContext]:
    ctx = make_ctx(name)
    update = getattr(nodes, name)(state, ctx)
    return update, ctx


def types_of(ctx: NodeContext) -> list[str]:
    return [event_type for event_type, _ in ctx.events]


def card_of(ctx: NodeContext) -> ReasonCard:
    cards = [payload for event_type, payload in ctx.events if event_type == "reason-card"]
    assert len(cards) == 1, f"expected one reason card, got {len(cards)}"
    return ReasonCard.model_validate(cards[0])


def payload_of(ctx: NodeContext, event_type: str) -> dict[str, Any]:
    payloads = [payload for t, payload in ctx.events if t == event_type]
    assert len(payloads) == 1, f"expected one {event_type} event, got {len(payloads)}"
    return payloads[0]


def golden_state(name: str, *, with_answers: bool = True) -> MLOpsProjectState:
    workload = GOLDEN[name]
    return new_state(workload["request"], workload["answers"] if with_answers else {})


def covered_state(name: str, *, with_answers: bool = True) -> MLOpsProjectState:
    state = golden_state(name, with_answers=with_answers)
    for node in ("extract_constraints", "coverage_check"):
        update, _ = run_node(node, state)
        state = apply(state, update)
    return state


def assessed_state(name: str) -> MLOpsProjectState:
    state = covered_state(name)
    for node in ("planner", "critic_tech", "critic_cost", "policy_eval"):
        update, _ = run_node(node, state)
        state = apply(state, update)
    return state


def with_approval(
    state: MLOpsProjectState, decision: str, comment: str | None
) -> MLOpsProjectState:
    return apply(
        state, {"approval": {"decision": decision, "comment": comment, "approver": "alice"}}
    )


class GraphDriver:
    """Runs the real graph on a fake store, collecting custom and update chunks.

    The run stops before the delivery nodes (code generation and validation are tested
    with real stores in tests/integration).
    """

    def __init__(self, thread_id: str = "ds-graph") -> None:
        self.store = FakeStore()
        self.graph = build_graph(InMemorySaver())
        self.context = RunContext(store=self.store, provider=PROVIDER)
        self.config = {"configurable": {"thread_id": thread_id}}
        self.thread_id = thread_id

    def start(self, request: str, answers: dict[str, str] | None = None) -> GraphDriver.Step:
        graph_input = {
            "decision_set_id": self.thread_id,
            "project_id": "prj-graph",
            "request": request,
            "answers": answers or {},
        }
        return self.stream(graph_input)

    def stream(self, graph_input: Any) -> GraphDriver.Step:
        step = GraphDriver.Step()
        for mode, chunk in self.graph.stream(
            graph_input,
            self.config,
            context=self.context,
            stream_mode=["custom", "updates"],
            interrupt_before=list(DELIVERY_NODES),
        ):
            if mode == "custom":
                step.messages.append(chunk)
            else:
                step.updates.append(chunk)
        return step

    def state(self) -> MLOpsProjectState:
        return MLOpsProjectState.model_validate(self.graph.get_state(self.config).values)

    def stored_types(self) -> list[str]:
        return [e.type for e in self.store.events[self.thread_id]]

    class Step:
        def __init__(self) -> None:
            self.messages: list[dict[str, Any]] = []
            self.updates: list[dict[str, Any]] = []

        def types(self) -> list[str]:
            return [m["type"] for m in self.messages]

        def nodes(self) -> list[str]:
            # a stop before the delivery nodes shows up as an empty "__interrupt__" update
            return [name for update in self.updates for name in update if update[name] != ()]

        def interrupt_value(self) -> dict[str, Any]:
            interrupts = [u["__interrupt__"] for u in self.updates if "__interrupt__" in u]
            assert len(interrupts) == 1, f"expected one pause, got {self.updates}"
            (interrupt,) = interrupts[0]
            return interrupt.value


# extract_constraints --------------------------------------------------------------------


@pytest.mark.parametrize("workload", sorted(GOLDEN))
def test_extract_constraints_reads_each_golden_request(workload: str) -> None:
    # Given a golden request (and its answers)
    state = golden_state(workload)

    # When the constraints are extracted
    update, ctx = run_node("extract_constraints", state)

    # Then the update holds valid constraints with the request's region and some evidence
    constraints = ConstraintSchema.model_validate(update["constraints"])
    assert constraints.region == GOLDEN_REGIONS[workload]
    assert update["evidence"]
    assert "region" in update["evidence"]
    assert set(update) == {"constraints", "evidence"}
    # and a reason card then a constraints-update event carrying the same constraints
    assert types_of(ctx) == ["reason-card", "constraints-update"]
    assert payload_of(ctx, "constraints-update") == {
        "constraints": update["constraints"],
        "evidence": update["evidence"],
    }
    card = card_of(ctx)
    assert card.node == "extract_constraints"
    assert (card.provider, card.model) == ("offline", "offline-rules-v1")
    assert card.inputs_digest == "x" * 64
    assert card.few_shot_pack_hash == PROVIDER.pack_hash()
    assert card.decision.startswith(f"Extracted {len(update['evidence'])} fields")


def test_extract_constraints_takes_answers_into_account() -> None:
    # Given the PHI request, once without and once with its budget answer
    request = GOLDEN["regulated_phi"]["request"]

    # When the constraints are extracted from both
    without, _ = run_node("extract_constraints", new_state(request))
    with_answer, _ = run_node("extract_constraints", new_state(request, {"budget": "$2,500/month"}))

    # Then only the answered one knows the budget
    assert without["constraints"]["budget"] is None
    assert with_answer["constraints"]["budget"]["monthly_usd"] == 2500


# coverage_check -------------------------------------------------------------------------


def test_coverage_check_with_complete_constraints_says_plan_next() -> None:
    # Given the batch golden workload's extracted constraints
    state = golden_state("batch_tabular")
    state = apply(state, run_node("extract_constraints", state)[0])

    # When coverage is checked
    update, ctx = run_node("coverage_check", state)

    # Then the coverage is complete and matches the constraints' own report
    coverage = CoverageReport.model_validate(update["coverage"])
    assert coverage.complete is True
    assert coverage == state.constraints.coverage()
    assert set(update) == {"coverage"}
    # and one platform reason card explains it
    assert types_of(ctx) == ["reason-card"]
    card = card_of(ctx)
    assert (card.provider, card.model) == ("platform", "coverage-rules")
    assert card.decision == (
        f"Coverage {coverage.score:.0%}: every mandatory field is known; plan next."
    )
    assert "5/5 mandatory fields known" in card.rationale
    assert card.confidence == 1.0


def test_coverage_check_with_incomplete_constraints_names_the_missing_fields() -> None:
    # Given constraints missing volume, budget and data sensitivity
    constraints = ConstraintSchema(deployment_mode="batch", region="eu-west-1")
    state = new_state("r", constraints=constraints)

    # When coverage is checked
    update, ctx = run_node("coverage_check", state)

    # Then the coverage is incomplete and the card names what to ask
    assert update["coverage"]["complete"] is False
    assert update["coverage"]["missing_mandatory"] == [
        "data_volume_gb",
        "budget",
        "data_sensitivity",
    ]
    assert update["coverage"]["score"] == 0.24
    card = card_of(ctx)
    assert card.decision == (
        "Coverage 24%: missing data_volume_gb, budget, data_sensitivity; ask the user."
    )
    assert "2/5 mandatory fields known; optional fields known: none" in card.rationale
    assert [a.option for a in card.alternatives] == ["plan with assumed defaults"]


def test_coverage_check_without_constraints_refuses_to_run() -> None:
    # Given a state where extraction never ran
    # When coverage is checked
    # Then it fails loudly instead of guessing
    with pytest.raises(ValueError, match="constraints is missing"):
        run_node("coverage_check", new_state("r"))


# adaptive_questioner --------------------------------------------------------------------


def test_adaptive_questioner_asks_the_one_missing_golden_field() -> None:
    # Given the PHI workload without its budget answer
    state = covered_state("regulated_phi", with_answers=False)
    assert state.coverage.missing_mandatory == ["budget"]

    # When questions are asked
    update, ctx = run_node("adaptive_questioner", state)

    # Then exactly the budget is asked and the round counter increments
    questions = [Question.model_validate(q) for q in update["questions"]]
    assert [q.field for q in questions] == ["budget"]
    assert questions[0].question and questions[0].why and questions[0].examples
    assert update["intake_rounds"] == 1
    assert types_of(ctx) == ["reason-card"]
    assert card_of(ctx).decision == "Ask 1 question(s): budget."


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        (
            ConstraintSchema(),
            [
                "deployment_mode",
                "region",
                "data_volume_gb",
                "budget",
                "data_sensitivity",
                "problem_type",  # what to predict is asked while unknown
            ],
        ),
        (
            ConstraintSchema(deployment_mode="real_time", region="us-east-1"),
            ["data_volume_gb", "budget", "data_sensitivity", "latency_p99_ms", "problem_type"],
        ),
        (
            ConstraintSchema(deployment_mode="batch", data_sensitivity=[], data_volume_gb=1),
            ["region", "budget", "problem_type"],
        ),
        (
            ConstraintSchema(
                problem_type="forecasting", deployment_mode="batch", data_sensitivity=[]
            ),
            ["region", "data_volume_gb", "budget"],
        ),
    ],
)
def test_adaptive_questioner_asks_exactly_the_missing_mandatory_fields(
    constraints: ConstraintSchema, expected: list[str]
) -> None:
    # Given constraints with some mandatory fields missing, after two question rounds
    state = new_state(
        "r", constraints=constraints, coverage=constraints.coverage(), intake_rounds=2
    )

    # When questions are asked
    update, ctx = run_node("adaptive_questioner", state)

    # Then one question per missing mandatory field, in asking order, and round three
    assert [q["field"] for q in update["questions"]] == expected
    assert update["intake_rounds"] == 3
    assert card_of(ctx).decision == f"Ask {len(expected)} question(s): {', '.join(expected)}."


# planning chain -------------------------------------------------------------------------


@pytest.mark.parametrize("workload", ["batch_tabular", "realtime_low_latency"])
def test_planning_chain_on_a_golden_workload(workload: str) -> None:
    # Given a golden workload whose coverage is complete
    state = covered_state(workload)
    constraints = state.constraints
    assert state.coverage.complete

    # When the planner runs
    update, ctx = run_node("planner", state)
    # Then it proposes a valid plan for the constraints' region and mode, with a card
    plan = Plan.model_validate(update["plan"])
    assert (plan.region, plan.deployment_mode) == (constraints.region, constraints.deployment_mode)
    assert types_of(ctx) == ["reason-card"]
    assert card_of(ctx).node == "planner"
    state = apply(state, update)

    # When the technical critic runs
    update, ctx = run_node("critic_tech", state)
    # Then it returns a critique and a card
    critique = TechnicalCritique.model_validate(update["technical_critique"])
    assert critique.verdict in {"sound", "sound_with_risks", "unsound"}
    assert types_of(ctx) == ["reason-card"]
    state = apply(state, update)

    # When the cost critic runs
    update, ctx = run_node("critic_cost", state)
    # Then a cost-update event carries the same valid estimate as the update
    assert types_of(ctx) == ["cost-update", "reason-card"]
    cost = CostEstimate.model_validate(payload_of(ctx, "cost-update"))
    assert cost == CostEstimate.model_validate(update["cost"])
    assert cost.region == plan.region
    assert cost.budget_monthly_usd == constraints.budget.monthly_usd
    assert cost.monthly_total_usd == pytest.approx(
        sum(item.monthly_usd for item in cost.line_items), abs=0.01
    )
    assert cost.within_budget is (cost.monthly_total_usd <= cost.budget_monthly_usd)
    assert card_of(ctx).decision.startswith(f"Estimated ${cost.monthly_total_usd:,.2f}/month")
    state = apply(state, update)

    # When the policy is evaluated
    update, ctx = run_node("policy_eval", state)
    # Then a policy-update event carries the report, and the card cites the ruleset hash
    assert types_of(ctx) == ["policy-update", "reason-card"]
    report = PolicyReport.model_validate(payload_of(ctx, "policy-update"))
    assert report == PolicyReport.model_validate(update["policy"])
    assert report.results
    card = card_of(ctx)
    assert card.few_shot_pack_hash == report.ruleset_hash
    assert card.few_shot_pack_hash != PROVIDER.pack_hash()
    assert (card.provider, card.model) == ("platform", f"policy-ruleset:{report.ruleset}")
    passed = sum(1 for r in report.results if r.status == "pass")
    assert card.decision.startswith(
        f"Policy {report.overall.upper()}: {passed} passed, {len(report.failed())} failed"
    )


def test_planner_without_constraints_refuses_to_run() -> None:
    # Given a state without constraints
    # When the planner runs
    # Then it fails instead of planning from nothing
    with pytest.raises(ValueError, match="constraints is missing"):
        run_node("planner", new_state("r"))


def test_critic_cost_without_a_plan_refuses_to_run() -> None:
    # Given constraints but no plan
    state = covered_state("batch_tabular")

    # When the cost critic runs
    # Then it fails naming the missing plan
    with pytest.raises(ValueError, match="plan is missing"):
        run_node("critic_cost", state)


def test_approval_summary_shows_what_an_approver_needs() -> None:
    # Given an assessed golden workload
    state = assessed_state("batch_tabular")

    # When the approval summary is built
    summary = nodes.approval_summary(state)

    # Then it reports the plan, cost, policy and critique verdicts
    assert summary == {
        "plan": state.plan.name,
        "plan_hash": nodes.plan_hash(state),
        "region": "eu-west-1",
        "summary": state.plan.summary,
        "services": state.plan.services(),
        "monthly_total_usd": state.cost.monthly_total_usd,
        "budget_monthly_usd": 1500.0,
        "policy": state.policy.overall,
        "failed_rules": [r.rule_id for r in state.policy.failed()],
        "technical_verdict": state.technical_critique.verdict,
    }


# process_approval_feedback --------------------------------------------------------------


@pytest.fixture(scope="module")
def assessed_batch() -> MLOpsProjectState:
    return assessed_state("batch_tabular")


def test_rejection_closes_the_run_without_changes(assessed_batch: MLOpsProjectState) -> None:
    # Given an assessed plan rejected with a comment
    state = with_approval(assessed_batch, "reject", SPOT_COMMENT)

    # When the feedback is processed
    update, ctx = run_node("process_approval_feedback", state)

    # Then the run is rejected, the comment changes nothing and is the card's rationale
    assert update == {
        "status": "rejected",
        "feedback": {"changes": [], "unrecognised": []},
        "recheck": None,
    }
    assert types_of(ctx) == ["reason-card"]
    card = card_of(ctx)
    assert card.decision == "Rejected by alice; nothing will be generated."
    assert card.rationale == SPOT_COMMENT
    assert (card.provider, card.model) == ("platform", "approval")


def test_approval_without_comment_keeps_the_constraints(
    assessed_batch: MLOpsProjectState,
) -> None:
    # Given an assessed plan approved without a comment
    state = with_approval(assessed_batch, "approve", None)

    # When the feedback is processed
    update, ctx = run_node("process_approval_feedback", state)

    # Then the run is approved and the constraints are left as they were
    assert update["status"] == "approved"
    assert FeedbackResult.model_validate(update["feedback"]) == FeedbackResult()
    assert "constraints" not in update
    assert apply(state, update).constraints == state.constraints
    assert types_of(ctx) == ["reason-card"]
    assert card_of(ctx).decision == "Approved by alice without changes."


def test_approval_with_spot_comment_updates_the_constraints(
    assessed_batch: MLOpsProjectState,
) -> None:
    # Given an assessed plan approved with "use spot instances for training"
    assert assessed_batch.constraints.use_spot_training is not True
    state = with_approval(assessed_batch, "approve", SPOT_COMMENT)

    # When the feedback is processed
    update, ctx = run_node("process_approval_feedback", state)

    # Then the run is approved with spot training switched on, and nothing else changed
    assert update["status"] == "approved"
    updated = ConstraintSchema.model_validate(update["constraints"])
    assert updated.use_spot_training is True
    assert updated.model_copy(update={"use_spot_training": None}) == state.constraints
    feedback = FeedbackResult.model_validate(update["feedback"])
    assert [(c.field, c.new) for c in feedback.changes] == [("use_spot_training", True)]
    assert feedback.unrecognised == []
    # and a constraints-update event reports the new constraints with their changes
    assert types_of(ctx) == ["reason-card", "constraints-update"]
    event = payload_of(ctx, "constraints-update")
    assert event["constraints"] == update["constraints"]
    assert event["changes"] == update["feedback"]["changes"]
    card = card_of(ctx)
    assert (card.provider, card.model) == ("offline", "offline-rules-v1")
    assert "1 constraint change(s)" in card.decision


def test_approval_with_an_unrecognised_comment_emits_no_constraints_update(
    assessed_batch: MLOpsProjectState,
) -> None:
    # Given an approval whose comment asks for nothing the rules understand
    state = with_approval(assessed_batch, "approve", "Looks good to me.")

    # When the feedback is processed
    update, ctx = run_node("process_approval_feedback", state)

    # Then the run is approved, the constraints are unchanged, no update event is sent
    assert update["status"] == "approved"
    assert ConstraintSchema.model_validate(update["constraints"]) == state.constraints
    assert update["feedback"]["changes"] == []
    assert update["feedback"]["unrecognised"]
    assert types_of(ctx) == ["reason-card"]


def test_feedback_without_an_approval_refuses_to_run(assessed_batch: MLOpsProjectState) -> None:
    # Given a state that never passed the approval gate
    # When the feedback is processed
    # Then it fails naming the missing approval
    with pytest.raises(ValueError, match="approval is missing"):
        run_node("process_approval_feedback", assessed_batch)


# gates, called directly -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "request_kind"),
    [("gate_user_input", "question"), ("gate_hitl", "approval-requested")],
)
def test_gates_cannot_pause_outside_a_graph(
    gate: str, request_kind: str, assessed_batch: MLOpsProjectState
) -> None:
    # Given a state ready for a gate, outside any LangGraph run
    state = assessed_batch.model_copy(
        update={"questions": [Question(field="region", question="q?", why="w")]}
    )
    ctx = make_ctx(gate)

    # When the gate is called directly
    # Then interrupt() refuses to run without a graph, after the request was queued
    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        getattr(nodes, gate)(state, ctx)
    assert types_of(ctx) == ["reason-card", request_kind]


# gates, through the graph ---------------------------------------------------------------


def test_question_gate_pauses_with_the_missing_fields() -> None:
    # Given the PHI request without a budget
    driver = GraphDriver()

    # When the graph runs
    step = driver.start(GOLDEN["regulated_phi"]["request"])

    # Then it pauses at the question gate asking for the budget, round 1
    request = step.interrupt_value()
    wait_key = request.pop("wait_key")
    assert request["kind"] == "question"
    assert request["round"] == 1
    assert [q["field"] for q in request["questions"]] == ["budget"]
    assert driver.graph.get_state(driver.config).next == ("gate_user_input",)
    assert step.nodes() == [
        "extract_constraints",
        "coverage_check",
        "adaptive_questioner",
        "__interrupt__",
    ]
    # and the wait was opened, then the question event (naming it) stored and streamed,
    # before the pause
    assert step.types()[-2:] == ["reason-card", "question"]
    announced = dict(step.messages[-1]["payload"])
    assert announced.pop("wait_id") == driver.store.waits[(driver.thread_id, wait_key)].id
    assert announced == request
    assert driver.stored_types().count("question") == 1
    assert step.messages == [e.message() for e in driver.store.events[driver.thread_id]]


def test_answers_resume_the_run_up_to_the_approval_gate() -> None:
    # Given a run paused at the question gate
    driver = GraphDriver()
    driver.start(GOLDEN["regulated_phi"]["request"])

    # When the user answers the budget
    step = driver.stream(Command(resume={"answers": {"budget": "$2,500 per month"}, "by": "t"}))

    # Then the answer is recorded, intake runs again and planning reaches the approval gate
    assert step.types()[0] == "answer-received"
    assert step.messages[0]["payload"] == {"answers": {"budget": "$2,500 per month"}, "by": "t"}
    assert step.nodes() == [
        "gate_user_input",
        "extract_constraints",
        "coverage_check",
        "planner",
        "critic_tech",
        "critic_cost",
        "policy_eval",
        "__interrupt__",
    ]
    state = driver.state()
    assert state.answers == {"budget": "$2,500 per month"}
    assert state.questions == []
    assert state.intake_rounds == 1
    assert state.constraints.budget.monthly_usd == 2500
    assert state.coverage.complete
    # and the pause's question event is not stored or streamed a second time
    assert "question" not in step.types()
    assert driver.stored_types().count("question") == 1
    assert driver.stored_types().count("answer-received") == 1
    gate_events = [
        e.type for e in driver.store.events[driver.thread_id] if e.node == "gate_user_input"
    ]
    assert gate_events == ["reason-card", "question", "answer-received"]
    seqs = [e.seq for e in driver.store.events[driver.thread_id]]
    assert seqs == list(range(1, len(seqs) + 1))


def test_approval_gate_pauses_with_the_summary() -> None:
    # Given a complete golden request
    driver = GraphDriver()

    # When the graph runs
    step = driver.start(GOLDEN["batch_tabular"]["request"])

    # Then no question is asked and the run pauses for approval with the plan's summary
    assert "question" not in step.types()
    request = step.interrupt_value()
    wait_key = request.pop("wait_key")
    state = driver.state()
    assert request == {"kind": "approval", **nodes.approval_summary(state)}
    assert request["region"] == "eu-west-1"
    assert request["plan"] == state.plan.name
    assert request["monthly_total_usd"] == state.cost.monthly_total_usd
    assert request["budget_monthly_usd"] == 1500.0
    assert request["policy"] == state.policy.overall
    assert request["technical_verdict"] == state.technical_critique.verdict
    assert request["services"] == state.plan.services()
    assert driver.graph.get_state(driver.config).next == ("gate_hitl",)
    assert step.types()[-2:] == ["reason-card", "approval-requested"]
    announced = dict(step.messages[-1]["payload"])
    wait = driver.store.waits[(driver.thread_id, wait_key)]
    assert announced.pop("wait_id") == wait.id and wait.kind == "approval"
    assert announced == request == wait.request
    assert state.status == "created"


def test_approval_resumes_to_an_approved_run_without_duplicate_requests() -> None:
    # Given a run paused at the approval gate
    driver = GraphDriver()
    driver.start(GOLDEN["batch_tabular"]["request"])
    before = driver.state()

    # When the approver approves without a comment
    step = driver.stream(Command(resume={"decision": "approve", "comment": None, "approver": "t"}))

    # Then the run ends approved with the decision recorded and the constraints unchanged
    assert step.nodes() == ["gate_hitl", "process_approval_feedback"]
    assert step.types() == ["approval-decided", "reason-card"]
    assert step.messages[0]["payload"] == {"decision": "approve", "comment": None, "approver": "t"}
    state = driver.state()
    assert state.status == "approved"
    assert state.approval.model_dump() == {"decision": "approve", "comment": None, "approver": "t"}
    assert state.constraints == before.constraints
    assert driver.graph.get_state(driver.config).next == ("codegen",)
    # and the approval request is stored once although the gate ran twice
    assert driver.stored_types().count("approval-requested") == 1
    assert driver.stored_types().count("approval-decided") == 1
    assert {r.node for r in driver.store.runs.values() if r.status == "succeeded"} == {
        "extract_constraints",
        "coverage_check",
        "planner",
        "critic_tech",
        "critic_cost",
        "policy_eval",
        "gate_hitl",
        "process_approval_feedback",
    }


def test_rejection_through_the_graph_ends_rejected() -> None:
    # Given a run paused at the approval gate
    driver = GraphDriver()
    driver.start(GOLDEN["batch_tabular"]["request"])

    # When the approver rejects it
    driver.stream(Command(resume={"decision": "reject", "comment": "too big", "approver": "t"}))

    # Then the run ends rejected with the decision recorded
    state = driver.state()
    assert state.status == "rejected"
    assert state.approval.decision == "reject"
    assert driver.stored_types()[-2:] == ["approval-decided", "reason-card"]


def test_approval_with_spot_comment_through_the_graph_updates_constraints() -> None:
    # Given a run paused at the approval gate
    driver = GraphDriver()
    driver.start(GOLDEN["batch_tabular"]["request"])

    # When the approver approves with the spot-training comment
    step = driver.stream(
        Command(resume={"decision": "approve", "comment": SPOT_COMMENT, "approver": "t"})
    )

    # Then the constraints use spot training (a constraints-update is streamed), and the
    # plan is re-made and re-costed with spot before code generation: the plan, the cost
    # and the code agree; it still passes, so no new approval is needed
    state = driver.state()
    assert state.constraints.use_spot_training is True
    types = step.types()
    assert types[:3] == ["approval-decided", "reason-card", "constraints-update"]
    assert step.messages[2]["payload"]["changes"][0]["field"] == "use_spot_training"
    assert {"cost-update", "policy-update"} <= set(types[3:])
    assert "approval-requested" not in types
    training = state.plan.by_service("sagemaker_training")[0]
    assert training.config["spot"] is True
    lines = [i for i in state.cost.line_items if i.component_id == training.id]
    assert lines and all("spot" in i.description for i in lines)
    assert state.recheck is not None and state.recheck.needs_decision is False
    assert state.status == "approved"


def test_an_approval_comment_that_breaks_policy_returns_to_the_gate() -> None:
    # Given a run paused at the approval gate for EU-resident data in eu-west-1
    driver = GraphDriver()
    first = driver.start(GOLDEN["batch_tabular"]["request"])
    approved_total = first.interrupt_value()["monthly_total_usd"]

    # When the approver approves but moves the workload to us-east-1
    step = driver.stream(
        Command(resume={"decision": "approve", "comment": "move to us-east-1", "approver": "t"})
    )

    # Then the plan is re-made in us-east-1, the policy now fails on residency, and the run
    # pauses at the gate again, whose card says what changed and why a new decision is due
    state = driver.state()
    assert state.plan.region == "us-east-1" and state.cost.region == "us-east-1"
    assert state.policy.overall == "fail"
    request = step.interrupt_value()
    assert request["kind"] == "approval"
    assert request["changes"][0]["field"] == "region"
    assert any("policy now fails" in r for r in request["reasons"])
    assert request["monthly_total_usd"] != approved_total
    cards = [m["payload"] for m in step.messages if m["type"] == "reason-card"]
    gate_card = cards[-1]
    assert gate_card["decision"].startswith("New approval needed")
    assert "region" in gate_card["decision"] and "policy now fails" in gate_card["decision"]

    # When the approver approves the re-made plan without a comment
    driver.stream(Command(resume={"decision": "approve", "comment": None, "approver": "t"}))

    # Then it goes on to delivery with the re-made plan
    final = driver.state()
    assert final.status == "approved" and final.recheck is None
    assert final.plan.region == "us-east-1"


def test_two_question_rounds_ask_only_what_is_still_missing() -> None:
    # Given a request that states none of the mandatory fields
    driver = GraphDriver()
    first = driver.start("Build me a churn model.")
    assert first.interrupt_value()["round"] == 1
    assert [q["field"] for q in first.interrupt_value()["questions"]] == [
        "deployment_mode",
        "region",
        "data_volume_gb",
        "budget",
        "data_sensitivity",
    ]

    # When only the mode and region are answered
    second = driver.stream(
        Command(resume={"answers": {"deployment_mode": "batch", "region": "eu-west-1"}, "by": "t"})
    )

    # Then a second round asks only the remaining fields, with its own question event
    request = second.interrupt_value()
    request.pop("wait_key")
    assert request["round"] == 2
    assert [q["field"] for q in request["questions"]] == [
        "data_volume_gb",
        "budget",
        "data_sensitivity",
    ]
    assert second.types().count("question") == 1
    announced = dict(second.messages[-1]["payload"])
    assert announced.pop("wait_id") and announced == request

    # When the rest is answered
    answers = {"data_volume_gb": "40 GB", "budget": "$1,500/month", "data_sensitivity": "none"}
    third = driver.stream(Command(resume={"answers": answers, "by": "t"}))

    # Then the answers accumulate, planning runs, and each round's question is stored once
    assert third.interrupt_value()["kind"] == "approval"
    state = driver.state()
    assert state.answers == {"deployment_mode": "batch", "region": "eu-west-1", **answers}
    assert state.intake_rounds == 2
    assert state.constraints.data_sensitivity == []
    assert driver.stored_types().count("question") == 2
    assert driver.stored_types().count("answer-received") == 2
