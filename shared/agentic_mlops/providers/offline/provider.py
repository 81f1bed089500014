"""The deterministic offline provider: rules and templates, no network.

It is the embedded default and the last fallback of LLM providers. Its "few-shot pack"
is its own rule set, so the pack hash is the content hash of the rule modules and the
pricing catalogue: any change to the rules changes the hash on every Reason Card.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from agentic_mlops.canonical import sha256_hex
from agentic_mlops.domain import (
    Alternative,
    ConstraintSchema,
    CostEstimate,
    Explanation,
    FeedbackResult,
    Finding,
    Plan,
    ProviderResult,
    Question,
    TechnicalCritique,
)
from agentic_mlops.providers.base import Extraction, OrchestrationProvider
from agentic_mlops.providers.offline import critics, extraction, planner

_RULE_FILES = ("extraction.py", "planner.py", "critics.py", "provider.py")


@cache
def _pack_hash() -> str:
    package = resources.files("agentic_mlops.providers.offline")
    digest = "".join(sha256_hex((package / name).read_bytes()) for name in _RULE_FILES)
    pricing = resources.files("agentic_mlops.pricing") / "catalogue.json"
    return sha256_hex(digest + sha256_hex(pricing.read_bytes()))


class OfflineProvider(OrchestrationProvider):
    """Rules-based reasoning: same input, same output, always."""

    name = "offline"
    model = "offline-rules-v1"

    def pack_hash(self) -> str:
        """Return the content hash of the rule modules and the pricing catalogue."""
        return _pack_hash()

    def extract_constraints(
        self, request: str, answers: dict[str, str]
    ) -> ProviderResult[Extraction]:
        """Read constraints from the request; answers override the text."""
        constraints, evidence = extraction.extract(request, answers)
        coverage = constraints.coverage()
        found = ", ".join(f"{field} ← “{phrase}”" for field, phrase in evidence.items())
        return ProviderResult(
            value=Extraction(constraints=constraints, evidence=evidence),
            explanation=Explanation(
                decision=f"Extracted {len(evidence)} fields; coverage {coverage.score:.0%}.",
                rationale=f"Read from the request and answers: {found or 'nothing recognised'}.",
                confidence=round(0.5 + 0.5 * coverage.score, 3),
            ),
        )

    def parse_answer(self, field: str, value: str) -> Any:
        """Return the typed value of an answer, or raise InvalidAnswer."""
        return extraction.parse_answer(field, value)

    def ask_questions(
        self, constraints: ConstraintSchema, missing: list[str]
    ) -> ProviderResult[list[Question]]:
        """Return one question per missing mandatory field."""
        questions = extraction.questions_for(constraints, missing)
        return ProviderResult(
            value=questions,
            explanation=Explanation(
                decision=f"Ask {len(questions)} question(s): {', '.join(missing)}.",
                rationale="Planning needs every mandatory field; each question says why its"
                " answer matters for this workload.",
                alternatives=[
                    Alternative(
                        option="assume defaults",
                        reason="region, budget and data class change the architecture and"
                        " its compliance; guessing them is unsafe",
                    )
                ],
                confidence=1.0,
            ),
        )

    def plan(self, constraints: ConstraintSchema) -> ProviderResult[Plan]:
        """Propose an architecture for the constraints."""
        plan, explanation = planner.plan_for(constraints)
        return ProviderResult(value=plan, explanation=explanation)

    def critique_technical(
        self, constraints: ConstraintSchema, plan: Plan
    ) -> ProviderResult[TechnicalCritique]:
        """Find the plan's technical weaknesses."""
        critique, explanation = critics.technical_critique(constraints, plan)
        return ProviderResult(value=critique, explanation=explanation)

    def critique_cost(
        self, constraints: ConstraintSchema, plan: Plan, estimate: CostEstimate
    ) -> ProviderResult[list[Finding]]:
        """Review the priced estimate against the budget and suggest savings."""
        from agentic_mlops.pricing.critic import cost_findings

        findings = cost_findings(constraints, plan, estimate)
        savings = sum(f.estimated_monthly_saving_usd or 0 for f in findings)
        budget = estimate.budget_monthly_usd
        if budget is None:
            verdict = "no budget given"
        elif estimate.within_budget:
            verdict = f"within the ${budget:,.0f}/month budget"
        else:
            verdict = f"over the ${budget:,.0f}/month budget"
        top = max(estimate.line_items, key=lambda item: item.monthly_usd, default=None)
        largest = f" Largest line: {top.description} (${top.monthly_usd:,.2f})." if top else ""
        return ProviderResult(
            value=findings,
            explanation=Explanation(
                decision=f"Estimated ${estimate.monthly_total_usd:,.2f}/month, {verdict}.",
                rationale=f"Priced {len(estimate.line_items)} line items from the catalogue"
                f" ({estimate.catalogue_source}, {estimate.catalogue_date}) with a"
                f" {estimate.region} multiplier of {estimate.region_multiplier}.{largest}"
                f" {len(findings)} finding(s); identified savings ~${savings:,.2f}/month.",
                confidence=0.8,
            ),
        )

    def interpret_feedback(
        self, comment: str, constraints: ConstraintSchema
    ) -> ProviderResult[tuple[ConstraintSchema, FeedbackResult]]:
        """Apply an approver's comment to the constraints."""
        updated, feedback = extraction.apply_feedback(comment, constraints)
        changed = ", ".join(f"{c.field}: {c.old!r} → {c.new!r}" for c in feedback.changes)
        return ProviderResult(
            value=(updated, feedback),
            explanation=Explanation(
                decision=f"Approved; {len(feedback.changes)} constraint change(s) from the"
                " comment.",
                rationale=(f"Changes: {changed}." if changed else "The comment changed nothing.")
                + (
                    f" Not understood: {'; '.join(feedback.unrecognised)}."
                    if feedback.unrecognised
                    else ""
                ),
                confidence=0.9 if not feedback.unrecognised else 0.6,
            ),
        )
