"""The human-readable plan documents committed to a project's history for each decision set.

They are rendered from the state alone (no timestamps, no ids that change between runs of
the same input), so that the git diff between two revisions shows only what changed.
"""

from __future__ import annotations

import json
from typing import Any

from agentic_mlops.domain import MLOpsProjectState


def _require(state: MLOpsProjectState) -> tuple[Any, Any, Any, Any]:
    if state.constraints is None or state.plan is None or state.cost is None:
        raise ValueError("plan documents need constraints, a plan and a cost estimate")
    if state.policy is None:
        raise ValueError("plan documents need the policy report")
    return state.constraints, state.plan, state.cost, state.policy


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def architecture_md(state: MLOpsProjectState) -> str:
    """Render ``plan/architecture.md``."""
    _, plan, _, _ = _require(state)
    lines = [
        f"# Architecture: {plan.name}",
        "",
        plan.summary,
        "",
        f"- Region: `{plan.region}`",
        f"- Deployment mode: `{plan.deployment_mode.value}`",
        f"- Encryption at rest: `{plan.encryption.at_rest}`; TLS in transit:"
        f" `{plan.encryption.in_transit_tls}`",
        f"- Networking: VPC `{plan.networking.vpc}`, private subnets"
        f" `{plan.networking.private_subnets}`, internet egress"
        f" `{plan.networking.internet_egress}`",
        "",
        "## Components",
        "",
        "| id | service | purpose | sizing |",
        "|---|---|---|---|",
    ]
    for component in plan.components:
        sizing = ", ".join(f"{k}={v}" for k, v in sorted(component.config.items()))
        lines.append(f"| {component.id} | {component.service} | {component.purpose} | {sizing} |")
    lines += ["", "## Rationale", ""] + [f"- {reason}" for reason in plan.rationale]
    lines += ["", "## Alternatives considered", ""]
    lines += [f"- {alt.option}: {alt.reason}" for alt in plan.alternatives]
    if plan.risks:
        lines += ["", "## Risks", ""] + [f"- {risk}" for risk in plan.risks]
    return "\n".join(lines) + "\n"


def cost_md(state: MLOpsProjectState) -> str:
    """Render ``plan/cost.md``."""
    _, _, cost, _ = _require(state)
    lines = [
        f"# Monthly cost estimate: {_money(cost.monthly_total_usd)}",
        "",
        f"Budget: {_money(cost.budget_monthly_usd)}; within budget: {cost.within_budget}.",
        f"Catalogue: {cost.catalogue_source} ({cost.catalogue_date});"
        f" region {cost.region} × {cost.region_multiplier}.",
        "",
    ]
    sections = [(e.name, e.monthly_usd) for e in cost.environments] or [(None, None)]
    for name, subtotal in sections:
        if name is not None:
            lines += [f"## {name.capitalize()}: {_money(subtotal)} per month", ""]
        lines += [
            "| component | item | quantity | unit price | monthly |",
            "|---|---|---|---|---|",
        ]
        for item in cost.line_items:
            if name is not None and item.environment != name:
                continue
            lines.append(
                f"| {item.component_id} | {item.description} | {item.quantity:,.2f} {item.unit}"
                f" | ${item.unit_price_usd:,.4f} | {_money(item.monthly_usd)} |"
            )
        lines.append("")
    if cost.environments:
        parts = " + ".join(f"{e.name} {_money(e.monthly_usd)}" for e in cost.environments)
        lines.append(f"Total: {_money(cost.monthly_total_usd)} per month ({parts}).")
    if cost.findings:
        lines += ["", "## Findings", ""]
        lines += [f"- [{f.severity}] {f.title}: {f.recommendation}" for f in cost.findings]
    return "\n".join(lines) + "\n"


def policy_md(state: MLOpsProjectState) -> str:
    """Render ``plan/policy.md``."""
    _, _, _, policy = _require(state)
    lines = [
        f"# Policy: {policy.overall.upper()}",
        "",
        f"Ruleset `{policy.ruleset}` (sha256 `{policy.ruleset_hash[:12]}`).",
        "",
        "| rule | severity | status | evidence |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.rule_id} {r.title} | {r.severity} | {r.status} | {r.evidence} |"
        for r in policy.results
    ]
    return "\n".join(lines) + "\n"


def decision_record_md(state: MLOpsProjectState) -> str:
    """Render ``plan/decision-record.md``: what was asked, decided and by whom."""
    _, plan, cost, policy = _require(state)
    approval = state.approval
    lines = [
        f"# Decision record: {plan.name}",
        "",
        "## Request",
        "",
        state.request,
    ]
    if state.change_request:
        lines += ["", "## Requested change", "", state.change_request]
    if state.answers:
        lines += ["", "## Answers", ""]
        lines += [f"- {field}: {value}" for field, value in sorted(state.answers.items())]
    lines += [
        "",
        "## Decision",
        "",
        f"- Plan `{plan.name}` in `{plan.region}`, estimated {_money(cost.monthly_total_usd)}"
        f" per month, policy {policy.overall}.",
    ]
    if state.technical_critique is not None:
        lines.append(f"- Technical verdict: {state.technical_critique.verdict}.")
    if approval is not None:
        comment = f" — “{approval.comment}”" if approval.comment else ""
        lines.append(f"- {approval.decision.capitalize()}d by {approval.approver}{comment}.")
    if state.feedback is not None and state.feedback.changes:
        lines += ["", "## Constraint changes from the approval", ""]
        lines += [f"- {c.field}: {c.old!r} → {c.new!r}" for c in state.feedback.changes]
    if state.validation is not None:
        verdict = state.validation.verdict()
        lines += ["", f"## Validation: {verdict}", ""]
        lines += [f"- {v.name}: {v.status}" for v in state.validation.validators]
    return "\n".join(lines) + "\n"


def constraints_json(state: MLOpsProjectState) -> str:
    """Render ``plan/constraints.json``."""
    constraints, _, _, _ = _require(state)
    return json.dumps(constraints.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def repo_manifest_json(state: MLOpsProjectState) -> str:
    """Render ``repo-manifest.json``: the generated files, the bundle and the validation."""
    manifest: dict[str, Any] = {
        "files": [f.model_dump() for f in state.repository.files] if state.repository else [],
        "generator": state.repository.generator if state.repository else None,
        "template_hash": state.repository.template_hash if state.repository else None,
        "bundle": state.bundle.model_dump(exclude={"store"}) if state.bundle else None,
        "validation": (
            {
                "passed": state.validation.passed,
                "counts": state.validation.counts,
                "validators": {v.name: v.status for v in state.validation.validators},
            }
            if state.validation
            else None
        ),
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def plan_documents(state: MLOpsProjectState) -> dict[str, str]:
    """Return every document committed for a decision set, by path."""
    return {
        "plan/architecture.md": architecture_md(state),
        "plan/constraints.json": constraints_json(state),
        "plan/cost.md": cost_md(state),
        "plan/policy.md": policy_md(state),
        "plan/decision-record.md": decision_record_md(state),
        "repo-manifest.json": repo_manifest_json(state),
    }
