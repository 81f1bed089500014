"""What the service answers for reads: a decision set as read in one query, and summaries."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from agentic_mlops.domain import MLOpsProjectState
from agentic_mlops.persistence.models import DecisionSet, DecisionSetRecord, Wait


@dataclass(frozen=True)
class DecisionSetRead:
    """A decision set: its row, its state (the read model) and its open wait."""

    record: DecisionSetRecord

    @property
    def decision_set(self) -> DecisionSet:
        """The decision set's row."""
        return self.record.decision_set

    @property
    def status(self) -> str:
        """Where it stands."""
        return self.record.decision_set.status

    @property
    def pending(self) -> Wait | None:
        """The open question round or approval gate, if it is paused at one."""
        return self.record.pending

    @property
    def stream_abandoned(self) -> bool:
        """Whether the live consumer of its latest job went away."""
        return self.record.stream_abandoned

    @property
    def state_json(self) -> dict[str, Any]:
        """The state as stored (JSON), without validation: what the REST view sends."""
        return self.record.state

    @cached_property
    def state(self) -> MLOpsProjectState | None:
        """The state as the typed model (validated on first use)."""
        if not self.record.state:
            return None
        return MLOpsProjectState.model_validate(self.record.state)


def summary(record: DecisionSetRecord) -> dict[str, Any]:
    """What a listing shows of a decision set."""
    state = record.state
    ds = record.decision_set
    plan = state.get("plan") or {}
    cost = state.get("cost") or {}
    validation = state.get("validation") or {}
    outcome = validation.get("outcome")
    if outcome is None and validation.get("passed") is not None:
        outcome = "passed" if validation["passed"] else "failed"
    pending = record.pending
    return {
        "id": ds.id,
        "project_id": ds.project_id,
        "parent_id": ds.parent_id,
        "status": ds.status,
        "request": ds.request,
        "created_at": ds.created_at.isoformat(),
        "updated_at": ds.updated_at.isoformat(),
        "plan_name": plan.get("name"),
        "region": plan.get("region"),
        "monthly_total_usd": cost.get("monthly_total_usd"),
        "budget_monthly_usd": cost.get("budget_monthly_usd"),
        "policy": (state.get("policy") or {}).get("overall"),
        "technical_verdict": (state.get("technical_critique") or {}).get("verdict"),
        "validation_outcome": outcome,
        "pending_kind": pending.kind if pending is not None else None,
        "commit_sha": ds.commit_sha,
    }
