"""The structured answers an LLM gives for each provider method (its tools' input schemas).

Each model is the JSON schema of a forced tool; the model's tool input is validated against
it at once. ``problems(inputs)`` adds the checks a schema cannot express (one question per
missing field, the plan in the requested region); they count as validation failures.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentic_mlops.domain import (
    ConstraintSchema,
    Explanation,
    FeedbackResult,
    Finding,
    Plan,
    Question,
    TechnicalCritique,
)


class Answer(BaseModel):
    """Base of the tool inputs: every answer explains itself."""

    model_config = ConfigDict(extra="forbid")

    explanation: Explanation

    def problems(self, inputs: dict[str, Any]) -> list[str]:
        """Return what is wrong with the answer beyond its schema (nothing by default)."""
        return []


class ExtractionAnswer(Answer):
    """Constraints read from the request, each with the phrase it came from."""

    constraints: ConstraintSchema
    evidence: dict[str, str] = Field(
        default_factory=dict, description="Field name -> the phrase of the request it came from."
    )


class QuestionsAnswer(Answer):
    """One follow-up question per missing mandatory field."""

    questions: list[Question]

    def problems(self, inputs: dict[str, Any]) -> list[str]:
        """Every missing field is asked exactly once, and nothing else."""
        asked = [q.field for q in self.questions]
        missing = list(inputs.get("missing", []))
        if sorted(asked) != sorted(missing):
            return [f"questions: ask exactly one question per missing field {missing}, got {asked}"]
        return []


class PlanAnswer(Answer):
    """The proposed architecture."""

    plan: Plan

    def problems(self, inputs: dict[str, Any]) -> list[str]:
        """The plan stays in the requested region and deployment mode."""
        constraints = inputs.get("constraints") or {}
        found = []
        region = constraints.get("region")
        if region and self.plan.region != region:
            found.append(f"plan.region: must be {region!r} (the constraints' region)")
        mode = constraints.get("deployment_mode")
        if mode and self.plan.deployment_mode.value != mode:
            found.append(f"plan.deployment_mode: must be {mode!r} (the constraints' mode)")
        return found


class TechnicalCritiqueAnswer(Answer):
    """The technical critic's review."""

    critique: TechnicalCritique


class CostReviewAnswer(Answer):
    """Findings on a priced estimate (the prices themselves come from the catalogue)."""

    findings: list[Finding]


class FeedbackAnswer(Answer):
    """The constraints after an approver's comment, and what changed."""

    constraints: ConstraintSchema
    feedback: FeedbackResult


ANSWERS: dict[str, type[Answer]] = {
    "extract_constraints": ExtractionAnswer,
    "ask_questions": QuestionsAnswer,
    "plan": PlanAnswer,
    "critique_technical": TechnicalCritiqueAnswer,
    "critique_cost": CostReviewAnswer,
    "interpret_feedback": FeedbackAnswer,
}
"""Provider method -> the answer model of its tool (the pack folder has the same name)."""


def tool_name(method: str) -> str:
    """The forced tool's name for a provider method."""
    return f"record_{method}"
