"""The workflow's nodes. Each takes the typed state and a :class:`NodeContext` and returns
a JSON state update; idempotency, events and streaming are added by
:func:`agentic_mlops.workflow.instrument.instrument`.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agentic_mlops.domain import (
    Alternative,
    ApprovalDecision,
    ApprovalRecheck,
    Explanation,
    FeedbackResult,
    MLOpsProjectState,
    PolicyReport,
)
from agentic_mlops.streaming import EventType
from agentic_mlops.workflow.instrument import NodeContext


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


def _require(value: Any, what: str) -> Any:
    if value is None:
        raise ValueError(f"{what} is missing from the state; the node order was not respected")
    return value


# intake ---------------------------------------------------------------------------------


def extract_constraints(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Read the constraints from the request and the answers given so far.

    A revision starts instead from its parent's final constraints and applies the
    requested change (then any answers given during the revision's own intake).
    """
    if state.base_constraints is not None:
        return _revise_constraints(state, ctx)
    result = ctx.provider.extract_constraints(state.request, state.answers)
    ctx.reason_card(result.explanation, call=result.metadata)
    extraction = result.value
    ctx.emit(
        EventType.CONSTRAINTS_UPDATE,
        {"constraints": _dump(extraction.constraints), "evidence": extraction.evidence},
    )
    return {"constraints": _dump(extraction.constraints), "evidence": extraction.evidence}


def _revise_constraints(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    base = _require(state.base_constraints, "base_constraints")
    change = state.change_request or ""
    interpreted = state.change_interpretation
    if interpreted is not None:
        # Read once, when the revision was asked for (the request was refused then if the
        # change altered nothing): no second provider call.
        constraints, feedback = interpreted.constraints, interpreted.feedback
        explanation, call = interpreted.explanation, interpreted.call
    elif change:
        result = ctx.provider.interpret_feedback(change, base)
        (constraints, feedback), explanation, call = (
            result.value,
            result.explanation,
            result.metadata,
        )
    else:  # a fork with answers only
        constraints, feedback, explanation, call = base, FeedbackResult(), None, None
    answered = {
        field: ctx.provider.parse_answer(field, text) for field, text in state.answers.items()
    }
    if answered:
        constraints = type(constraints).model_validate({**constraints.model_dump(), **answered})
    evidence = {c.field: f"change: {c.source}" for c in feedback.changes}
    evidence |= {field: f"answer: {text}" for field, text in state.answers.items()}
    changed = ", ".join(f"{c.field}: {c.old!r} → {c.new!r}" for c in feedback.changes)
    origin = f" at event {state.forked_from['seq']}" if state.forked_from else ""
    ctx.reason_card(
        Explanation(
            decision=f"Revision of {state.revision_of}{origin}: {len(feedback.changes)}"
            f" constraint change(s) from “{change}”."
            if change
            else f"Revision of {state.revision_of}{origin} with new answers"
            f" ({', '.join(sorted(state.answers))}).",
            rationale=(f"Changes: {changed}." if changed else "The change altered nothing.")
            + " Every other constraint is carried over from the parent decision set.",
            confidence=explanation.confidence if explanation else 1.0,
        ),
        provider=None if call or explanation else "platform",
        model=None if call or explanation else "revision",
        call=call,
    )
    ctx.emit(
        EventType.CONSTRAINTS_UPDATE,
        {
            "constraints": _dump(constraints),
            "evidence": evidence,
            "changes": [_dump(c) for c in feedback.changes],
        },
    )
    return {"constraints": _dump(constraints), "evidence": evidence}


def coverage_check(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Score the constraints' coverage and decide whether planning can start."""
    constraints = _require(state.constraints, "constraints")
    coverage = constraints.coverage()
    if coverage.complete:
        decision = f"Coverage {coverage.score:.0%}: every mandatory field is known; plan next."
    else:
        decision = (
            f"Coverage {coverage.score:.0%}: missing {', '.join(coverage.missing_mandatory)};"
            " ask the user."
        )
    mandatory = f"{coverage.mandatory_known}/{coverage.mandatory_total} mandatory fields known"
    optional = ", ".join(coverage.known_optional) or "none"
    ctx.reason_card(
        Explanation(
            decision=decision,
            rationale=f"{mandatory}; optional fields known: {optional}. Mandatory fields"
            " weigh three times as much as optional ones in the score.",
            alternatives=[
                Alternative(
                    option="plan with assumed defaults",
                    reason="a plan built on guessed region, budget or data class would be"
                    " unsafe to approve",
                )
            ],
            confidence=1.0,
        ),
        provider="platform",
        model="coverage-rules",
    )
    return {"coverage": _dump(coverage)}


def adaptive_questioner(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Ask one question per missing mandatory field (and what to predict when unknown)."""
    constraints = _require(state.constraints, "constraints")
    _require(state.coverage, "coverage")
    result = ctx.provider.ask_questions(constraints, constraints.missing_to_ask())
    ctx.reason_card(result.explanation, call=result.metadata)
    return {"questions": [_dump(q) for q in result.value], "intake_rounds": state.intake_rounds + 1}


def gate_user_input(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Pause until the user answers the open questions."""
    questions = [_dump(q) for q in state.questions]
    request = {"kind": "question", "round": state.intake_rounds, "questions": questions}
    wait = ctx.open_wait("question", request)
    ctx.reason_card(
        Explanation(
            decision=f"Wait for the user's answers ({', '.join(q['field'] for q in questions)}).",
            rationale="The run pauses here; its checkpoint lets any process continue it when"
            " the answers arrive.",
            confidence=1.0,
        ),
        provider="platform",
        model="human-gate",
    )
    ctx.emit(EventType.QUESTION, _announced(request, wait))
    response = interrupt({**request, "wait_key": ctx.wait_key})
    answers = {str(k): str(v) for k, v in dict(response.get("answers", {})).items()}
    ctx.emit(EventType.ANSWER_RECEIVED, {"answers": answers, "by": response.get("by")})
    return {"answers": {**state.answers, **answers}, "questions": []}


# planning -------------------------------------------------------------------------------


def planner(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Propose an architecture for the constraints."""
    result = ctx.provider.plan(_require(state.constraints, "constraints"))
    ctx.reason_card(result.explanation, call=result.metadata)
    return {"plan": _dump(result.value)}


def critic_tech(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Review the plan for technical weaknesses."""
    result = ctx.provider.critique_technical(
        _require(state.constraints, "constraints"), _require(state.plan, "plan")
    )
    ctx.reason_card(result.explanation, call=result.metadata)
    return {"technical_critique": _dump(result.value)}


def critic_cost(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Price the plan from the catalogue, line by line, and review it against the budget."""
    from agentic_mlops.pricing import estimate

    constraints = _require(state.constraints, "constraints")
    plan = _require(state.plan, "plan")
    priced = estimate(plan, constraints)
    review = ctx.provider.critique_cost(constraints, plan, priced)
    cost = priced.model_copy(update={"findings": review.value})
    ctx.emit(EventType.COST_UPDATE, _dump(cost))
    ctx.reason_card(review.explanation, call=review.metadata)
    return {"cost": _dump(cost)}


def policy_eval(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Check the plan and its cost against the organisation's policy rules."""
    from agentic_mlops.policy import evaluate

    report = evaluate(
        _require(state.constraints, "constraints"), _require(state.plan, "plan"), state.cost
    )
    ctx.emit(EventType.POLICY_UPDATE, _dump(report))
    failed = report.failed()
    passed = sum(1 for r in report.results if r.status == "pass")
    decision = f"Policy {report.overall.upper()}: {passed} passed, {len(failed)} failed"
    if failed:
        decision += " (" + ", ".join(f"{r.rule_id} {r.severity}" for r in failed) + ")"
    rationale = " ".join(f"{r.rule_id}: {r.evidence}" for r in failed) or (
        "Every applicable rule of the ruleset passed."
    )
    update: dict[str, Any] = {"policy": _dump(report)}
    if state.recheck is not None and state.recheck.pending:
        recheck = _recheck_outcome(state, report)
        update["recheck"] = _dump(recheck)
        verdict = (
            "needs a new approval: " + "; ".join(recheck.reasons)
            if recheck.needs_decision
            else "passes policy and budget, so the approval stands"
        )
        rationale += f" Re-made after the approver's comment ({_changes_text(recheck)}): {verdict}."
    ctx.reason_card(
        Explanation(decision=decision, rationale=rationale, confidence=1.0),
        provider="platform",
        model=f"policy-ruleset:{report.ruleset}",
        pack_hash=report.ruleset_hash,
    )
    return update


def _changes_text(recheck: ApprovalRecheck) -> str:
    return ", ".join(f"{c.field} {c.old!r} → {c.new!r}" for c in recheck.changes) or "no change"


def _recheck_outcome(state: MLOpsProjectState, report: PolicyReport) -> ApprovalRecheck:
    """Whether a plan re-made after an approver's comment needs a new decision, and why."""
    recheck = _require(state.recheck, "recheck")
    cost = state.cost
    reasons = []
    if report.overall == "fail":
        rules = ", ".join(r.rule_id for r in report.failed())
        reasons.append(f"policy now fails ({rules})")
    if cost is not None and cost.within_budget is False:
        before = recheck.approved_total_usd
        moved = f" (was ${before:,.2f})" if before is not None else ""
        reasons.append(
            f"the estimate ${cost.monthly_total_usd:,.2f}/month{moved} is over the "
            f"${cost.budget_monthly_usd or 0:,.2f} budget"
        )
    return recheck.model_copy(
        update={"pending": False, "needs_decision": bool(reasons), "reasons": reasons}
    )


# approval -------------------------------------------------------------------------------


def plan_hash(state: MLOpsProjectState) -> str:
    """The hash naming the plan an approver is shown: its plan, cost and policy."""
    from agentic_mlops.canonical import canonical_json_hash

    return canonical_json_hash(
        {
            "plan": _dump(_require(state.plan, "plan")),
            "cost": state.cost.monthly_total_usd if state.cost else None,
            "policy": state.policy.overall if state.policy else None,
        }
    )


def _announced(request: dict[str, Any], wait: Any) -> dict[str, Any]:
    """The wait's request as announced: with its id, so that a client can answer it."""
    return request if wait is None else {**request, "wait_id": wait.id}


def approval_summary(state: MLOpsProjectState) -> dict[str, Any]:
    """Return what an approver needs to see to decide."""
    plan = _require(state.plan, "plan")
    cost, policy, critique = state.cost, state.policy, state.technical_critique
    return {
        "plan": plan.name,
        "plan_hash": plan_hash(state),
        "region": plan.region,
        "summary": plan.summary,
        "services": plan.services(),
        "monthly_total_usd": cost.monthly_total_usd if cost else None,
        "budget_monthly_usd": cost.budget_monthly_usd if cost else None,
        "policy": policy.overall if policy else None,
        "failed_rules": [r.rule_id for r in policy.failed()] if policy else [],
        "technical_verdict": critique.verdict if critique else None,
        **(
            {
                "changes": [_dump(c) for c in state.recheck.changes],
                "reasons": list(state.recheck.reasons),
            }
            if state.recheck is not None and state.recheck.needs_decision
            else {}
        ),
    }


def gate_hitl(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Pause until an approver approves or rejects the plan."""
    request = {"kind": "approval", **approval_summary(state)}
    wait = ctx.open_wait("approval", request)
    recheck = state.recheck
    if recheck is not None and recheck.needs_decision:
        explanation = Explanation(
            decision="New approval needed: the approver's comment changed"
            f" {_changes_text(recheck)}; {'; '.join(recheck.reasons)}.",
            rationale="The plan was re-made, re-costed and re-checked with the changed"
            f" constraints: policy {request['policy']}, estimated"
            f" ${request['monthly_total_usd'] or 0:,.2f}/month. The earlier approval covered"
            " a different plan, so nothing is generated before a new decision.",
            confidence=1.0,
        )
    else:
        explanation = Explanation(
            decision=f"Wait for an approver: policy {request['policy']}, estimated"
            f" ${request['monthly_total_usd'] or 0:,.2f}/month.",
            rationale="Nothing is generated before a human approves; the approver's comment"
            " may still change the constraints.",
            confidence=1.0,
        )
    ctx.reason_card(explanation, provider="platform", model="human-gate")
    ctx.emit(EventType.APPROVAL_REQUESTED, _announced(request, wait))
    response = interrupt({**request, "wait_key": ctx.wait_key})
    decision = ApprovalDecision.model_validate(
        {k: v for k, v in response.items() if k in ApprovalDecision.model_fields}
    )
    ctx.emit(EventType.APPROVAL_DECIDED, _dump(decision))
    return {"approval": _dump(decision)}


def process_approval_feedback(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Apply the approver's comment to the constraints, or close a rejected run."""
    approval = _require(state.approval, "approval")
    constraints = _require(state.constraints, "constraints")
    if approval.decision == "reject":
        ctx.reason_card(
            Explanation(
                decision=f"Rejected by {approval.approver}; nothing will be generated.",
                rationale=approval.comment or "No comment given.",
                confidence=1.0,
            ),
            provider="platform",
            model="approval",
        )
        return {"status": "rejected", "feedback": _dump(FeedbackResult()), "recheck": None}
    if not approval.comment:
        ctx.reason_card(
            Explanation(
                decision=f"Approved by {approval.approver} without changes.",
                rationale="No comment, so the constraints stand as planned.",
                confidence=1.0,
            ),
            provider="platform",
            model="approval",
        )
        return {"status": "approved", "feedback": _dump(FeedbackResult()), "recheck": None}
    result = ctx.provider.interpret_feedback(approval.comment, constraints)
    updated, feedback = result.value
    ctx.reason_card(result.explanation, call=result.metadata)
    update: dict[str, Any] = {
        "status": "approved",
        "constraints": _dump(updated),
        "feedback": _dump(feedback),
        "recheck": None,
    }
    if feedback.changes:
        ctx.emit(
            EventType.CONSTRAINTS_UPDATE,
            {"constraints": _dump(updated), "changes": [_dump(c) for c in feedback.changes]},
        )
        update["recheck"] = _dump(
            ApprovalRecheck(
                changes=feedback.changes,
                approved_total_usd=state.cost.monthly_total_usd if state.cost else None,
                approved_policy=state.policy.overall if state.policy else None,
            )
        )
    return update


# delivery -------------------------------------------------------------------------------


def codegen(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Render the repository for the approved plan and store its sources."""
    from agentic_mlops.artifacts.bundle import build_zip
    from agentic_mlops.canonical import sha256_hex
    from agentic_mlops.codegen import AgentCodeGen, generate_with_outcome
    from agentic_mlops.domain import GeneratedRepository, ProviderCall, RepoFile

    run = ctx.require_run()
    if run.codegen is None or run.artifacts is None:
        raise RuntimeError("codegen needs a code generator and an artifact store")
    outcome = generate_with_outcome(run.codegen, state)
    files = outcome.files
    stored = run.artifacts.put(build_zip(files), kind="sources")
    repository = GeneratedRepository(
        source_key=stored.key,
        source_sha256=stored.sha256,
        files=[
            RepoFile(path=path, sha256=sha256_hex(text), size=len(text.encode("utf-8")))
            for path, text in sorted(files.items())
        ],
        generator=outcome.generator,
        template_hash=outcome.template_hash,
    )
    plan = _require(state.plan, "plan")
    areas = sorted({path.split("/")[0] for path in files if "/" in path})
    spot = bool(_require(state.constraints, "constraints").use_spot_training)
    how = (
        "A Claude agent wrote the repository"
        if outcome.generator == AgentCodeGen.name
        else "Templates rendered"
    )
    ctx.reason_card(
        Explanation(
            decision=f"Generated {len(files)} files ({', '.join(areas)}) for {plan.name}.",
            rationale=f"{how} for the plan's {len(plan.components)} components in"
            f" {plan.region}; spot training {'on' if spot else 'off'}. Sources stored as"
            f" {stored.key}.",
            confidence=1.0,
        ),
        provider="platform",
        model=outcome.generator,
        pack_hash=repository.template_hash,
        call=ProviderCall(
            provider="platform",
            model=outcome.generator,
            few_shot_pack_hash=repository.template_hash,
            fallback_reason=outcome.fallback_reason,
        )
        if outcome.fallback_reason
        else None,
    )
    return {"repository": _dump(repository)}


def validators(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Validate the generated repository in the sandbox and store the bundle with its reports."""
    from agentic_mlops.artifacts.bundle import build_zip, read_zip
    from agentic_mlops.domain import BundleRef
    from agentic_mlops.validation.iac_policy import IacExpectations
    from agentic_mlops.validation.remote import SandboxValidator

    run = ctx.require_run()
    if run.artifacts is None:
        raise RuntimeError("validators need an artifact store")
    repository = _require(state.repository, "repository")
    sources = {
        path: data.decode("utf-8")
        for path, data in read_zip(run.artifacts.get(repository.source_key)).items()
    }
    expectations = IacExpectations.from_plan(_require(state.plan, "plan"))
    validator = run.validator or SandboxValidator()
    report, reports = validator.validate(
        sources, source_key=repository.source_key, expectations=expectations
    )
    stored = run.artifacts.put(build_zip({**sources, **reports}), kind="bundles")
    bundle = BundleRef(
        key=stored.key, sha256=stored.sha256, size=stored.size, store=run.artifacts.name
    )
    ctx.emit(EventType.VALIDATION_REPORT, {**_dump(report), "bundle": _dump(bundle)})
    statuses = ", ".join(f"{v.name} {v.status}" for v in report.validators)
    skipped = " ".join(f"Skipped {s.validator}: {s.reason}." for s in report.skips)
    ctx.reason_card(
        Explanation(
            decision=f"Validation {report.verdict()}: {statuses}.",
            rationale=f"Findings by severity: {report.counts}. Sandbox: {report.isolation}."
            + (f" {skipped}" if skipped else "")
            + f" Bundle {bundle.key} ({bundle.size} bytes) holds the sources and reports/.",
            confidence=1.0,
        ),
        provider="platform",
        model="validators",
    )
    return {"validation": _dump(report), "bundle": _dump(bundle)}


def diff_and_persist(state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
    """Commit the plan documents to the project's history and record the commit."""
    from agentic_mlops.artifacts.bundle import read_zip
    from agentic_mlops.vcs.remote import push_repository
    from agentic_mlops.workflow.documents import plan_documents

    run = ctx.require_run()
    if run.repositories is None:
        raise RuntimeError("diff_and_persist needs the project repositories")
    parent_sha = None
    if state.revision_of:
        parent_sha = run.store.get_decision_set(state.revision_of).commit_sha
    plan = _require(state.plan, "plan")
    message = f"{plan.name}: decision set {state.decision_set_id}"
    if state.revision_of:
        message += f" (revision of {state.revision_of}: {state.change_request})"
    # Commits go on the project's main line; a revision is compared with its parent's
    # commit (recorded on the parent decision set), wherever that commit stands.
    with run.repositories(state.project_id) as repository:
        commit = repository.commit_decision_set(
            state.decision_set_id, plan_documents(state), message=message
        )
    run.store.update_decision_set(
        state.decision_set_id,
        lambda ds: {} if ds.commit_sha == commit.sha else {"commit_sha": commit.sha},
    )
    delivery = run.delivery
    pushed = ""
    if (
        delivery is not None
        and delivery.enabled
        and state.repository is not None
        and run.artifacts is not None
    ):
        sources = read_zip(run.artifacts.get(state.repository.source_key))
        ref = push_repository(
            sources,
            settings=delivery,
            branch=f"{delivery.branch_prefix}{state.decision_set_id}",
            subject=message,
            body=plan_documents(state)["plan/decision-record.md"],
        )
        commit = commit.model_copy(update={"delivery": ref})
        verb = "Pushed" if ref.created else "Already pushed"
        pushed = f" {verb} the generated repository to {ref.remote} as {ref.branch}"
        pushed += f" ({ref.sha[:12]})."
    ctx.reason_card(
        Explanation(
            decision=f"Committed {len(commit.files)} plan documents as {commit.sha[:12]}.",
            rationale=(
                f"Compared with {parent_sha[:12]}, the commit of decision set {state.revision_of}."
                if parent_sha
                else "No parent decision set; the commit follows the project's main line."
            )
            + " Documents: "
            + ", ".join(commit.files)
            + "."
            + pushed,
            confidence=1.0,
        ),
        provider="platform",
        model="dulwich",
    )
    return {"commit": _dump(commit)}
