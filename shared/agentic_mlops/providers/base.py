"""The interface every orchestration provider implements (offline rules, later LLMs)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, Field

from agentic_mlops.domain import (
    ConstraintSchema,
    CostEstimate,
    FeedbackResult,
    Finding,
    Plan,
    ProviderResult,
    Question,
    TechnicalCritique,
)


class InvalidAnswer(ValueError):
    """An answer that cannot be read for its field; the message says what is expected."""

    def __init__(self, field: str, value: str, expected: str) -> None:
        super().__init__(f"{field}: cannot read {value!r}; expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


class Extraction(BaseModel):
    """Constraints read from free text, with the phrase each field came from."""

    constraints: ConstraintSchema
    evidence: dict[str, str] = Field(default_factory=dict)


class OrchestrationProvider(ABC):
    """Reasoning behind the workflow's nodes.

    Every method is deterministic for the offline provider; LLM-backed providers must
    return outputs that validate against the same models.
    """

    name: str
    model: str

    @abstractmethod
    def pack_hash(self) -> str:
        """Return the content hash of the few-shot pack (or rules) this provider uses."""

    @abstractmethod
    def extract_constraints(
        self, request: str, answers: dict[str, str]
    ) -> ProviderResult[Extraction]:
        """Read constraints from the request; answers (field -> text) override the text."""

    @abstractmethod
    def parse_answer(self, field: str, value: str) -> Any:
        """Return the typed value of an answer for one field, or raise :class:`InvalidAnswer`."""

    @abstractmethod
    def ask_questions(
        self, constraints: ConstraintSchema, missing: list[str]
    ) -> ProviderResult[list[Question]]:
        """Return one follow-up question per missing mandatory field."""

    @abstractmethod
    def plan(self, constraints: ConstraintSchema) -> ProviderResult[Plan]:
        """Propose an architecture for the constraints."""

    @abstractmethod
    def critique_technical(
        self, constraints: ConstraintSchema, plan: Plan
    ) -> ProviderResult[TechnicalCritique]:
        """Find technical weaknesses of the plan."""

    @abstractmethod
    def critique_cost(
        self, constraints: ConstraintSchema, plan: Plan, estimate: CostEstimate
    ) -> ProviderResult[list[Finding]]:
        """Review a priced estimate against the budget and suggest savings."""

    @abstractmethod
    def interpret_feedback(
        self, comment: str, constraints: ConstraintSchema
    ) -> ProviderResult[tuple[ConstraintSchema, FeedbackResult]]:
        """Apply an approver's comment to the constraints."""
