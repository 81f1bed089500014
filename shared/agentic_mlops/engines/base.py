"""The engine interface: how a decision set's workflow is started, resumed and inspected."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from agentic_mlops.domain import ApprovalDecision, MLOpsProjectState
from agentic_mlops.persistence.models import DecisionSet, Wait

PAUSED_STATUSES = frozenset({"awaiting_input", "awaiting_approval"})
FINAL_STATUSES = frozenset({"approved", "rejected", "failed"})


@dataclass(frozen=True)
class RunOutcome:
    """Where a decision set stands after an engine call."""

    decision_set: DecisionSet
    state: MLOpsProjectState | None
    pending: Wait | None

    @property
    def status(self) -> str:
        """The decision set's status."""
        return self.decision_set.status


class Engine(ABC):
    """Runs the workflow of decision sets (in-process locally, Step Functions in AWS)."""

    name: str

    @abstractmethod
    def start(
        self, project: str, request: str, answers: dict[str, str] | None = None
    ) -> RunOutcome:
        """Create a decision set for the request and run until it pauses or ends."""

    @abstractmethod
    def revise(
        self, parent_id: str, change: str, answers: dict[str, str] | None = None
    ) -> RunOutcome:
        """Create a revision of a decided decision set carrying ``change`` and run it."""

    @abstractmethod
    def answer(self, decision_set_id: str, answers: dict[str, str], by: str) -> RunOutcome:
        """Answer the open intake questions and continue."""

    @abstractmethod
    def decide(self, decision_set_id: str, decision: ApprovalDecision) -> RunOutcome:
        """Approve or reject the plan waiting at the approval gate and continue."""

    @abstractmethod
    def resume(self, decision_set_id: str) -> RunOutcome:
        """Continue a run that stopped without pausing (a crash) from its last checkpoint."""

    @abstractmethod
    def status(self, decision_set_id: str) -> RunOutcome:
        """Return where the decision set stands, without running anything."""
