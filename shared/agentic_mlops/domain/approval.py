"""Human decisions: approvals and the constraint changes they carry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ApprovalDecision(BaseModel):
    """An approver's decision at the approval gate."""

    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=4000)
    approver: str = "cli"


class ConstraintChange(BaseModel):
    """One constraint changed by an approver's comment or a revision request."""

    field: str
    old: Any = None
    new: Any = None
    source: str = Field(description="The phrase the change was read from.")


class ApprovalRecheck(BaseModel):
    """An approval whose comment changed the constraints: the plan is re-made and checked.

    ``pending`` while the plan, cost and policy are re-made; then ``needs_decision`` says
    whether the run goes back to the approval gate, with the ``reasons``.
    """

    changes: list[ConstraintChange] = Field(default_factory=list)
    approved_total_usd: float | None = None
    approved_policy: str | None = None
    pending: bool = True
    needs_decision: bool = False
    reasons: list[str] = Field(default_factory=list)


class FeedbackResult(BaseModel):
    """What the approval feedback did to the constraints."""

    changes: list[ConstraintChange] = Field(default_factory=list)
    unrecognised: list[str] = Field(
        default_factory=list, description="Sentences of the comment that changed nothing."
    )
