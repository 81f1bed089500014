"""The LangGraph state of a decision set.

Channels hold plain JSON (nodes return ``model_dump(mode="json")`` updates), so the
checkpoint stays portable and hashable; nodes read it back as these typed models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agentic_mlops.domain.approval import ApprovalDecision, ApprovalRecheck, FeedbackResult
from agentic_mlops.domain.assessment import CostEstimate, PolicyReport, TechnicalCritique
from agentic_mlops.domain.constraints import ConstraintSchema, CoverageReport, Question
from agentic_mlops.domain.delivery import (
    BundleRef,
    CommitRef,
    GeneratedRepository,
    ValidationReport,
)
from agentic_mlops.domain.plan import Plan
from agentic_mlops.domain.reasoning import Explanation, ProviderCall

RunStatus = Literal[
    "created",
    "running",
    "awaiting_input",
    "awaiting_approval",
    "approved",
    "rejected",
    "failed",
]


WAIT_STATUS: dict[str, RunStatus] = {"question": "awaiting_input", "approval": "awaiting_approval"}
"""The status of a decision set paused at a wait of each kind."""
PAUSED_STATUSES: frozenset[str] = frozenset(WAIT_STATUS.values())
FINAL_STATUSES: frozenset[str] = frozenset({"approved", "rejected", "failed"})

MAX_REQUEST_CHARS = 20_000
"""The longest request (plain-words description of a workload) accepted."""


class ChangeInterpretation(BaseModel):
    """A revision's change as the provider read it, once, when the revision was asked for."""

    constraints: ConstraintSchema
    feedback: FeedbackResult
    explanation: Explanation
    call: ProviderCall | None = None


class IntakeState(BaseModel):
    """The intake part of the state: the request, answers and extracted constraints."""

    decision_set_id: str
    project_id: str
    request: str = Field(min_length=1)
    answers: dict[str, str] = Field(default_factory=dict)
    constraints: ConstraintSchema | None = None
    evidence: dict[str, str] = Field(
        default_factory=dict, description="Per field, the phrase it was extracted from."
    )
    coverage: CoverageReport | None = None
    questions: list[Question] = Field(default_factory=list)
    intake_rounds: int = 0
    revision_of: str | None = Field(
        default=None, description="The parent decision set when this is a revision."
    )
    change_request: str | None = Field(
        default=None,
        description="The change a revision asks for, applied to the parent's constraints.",
    )
    base_constraints: ConstraintSchema | None = Field(
        default=None, description="The parent's final constraints a revision starts from."
    )
    change_interpretation: ChangeInterpretation | None = Field(
        default=None, description="The revision's change, interpreted when it was asked for."
    )
    forked_from: dict[str, Any] | None = Field(
        default=None,
        description="The parent's event (and its checkpoint) a fork started from.",
    )


class MLOpsProjectState(IntakeState):
    """The whole state of a decision set's workflow."""

    plan: Plan | None = None
    technical_critique: TechnicalCritique | None = None
    cost: CostEstimate | None = None
    policy: PolicyReport | None = None
    approval: ApprovalDecision | None = None
    feedback: FeedbackResult | None = None
    recheck: ApprovalRecheck | None = None
    """Set when an approver's comment changed the constraints after the plan was made."""
    repository: GeneratedRepository | None = None
    validation: ValidationReport | None = None
    bundle: BundleRef | None = None
    commit: CommitRef | None = None
    status: RunStatus = "created"
