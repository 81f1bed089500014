"""The one provider factory, and the provider created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentic_mlops.providers.base import Extraction, OrchestrationProvider

if TYPE_CHECKING:
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
    from agentic_mlops.providers.settings import ProviderSettings


def create_provider(settings: ProviderSettings) -> OrchestrationProvider:
    """The provider the settings choose (the one factory).

    ``auto`` means Anthropic when ``ANTHROPIC_API_KEY`` or ``AGENTIC_MLOPS_ANTHROPIC_SECRET``
    is configured, else the offline provider; see ``docs/providers.md``.
    """
    if settings.chosen_provider() == "offline":
        from agentic_mlops.providers.offline import OfflineProvider

        return OfflineProvider()
    from agentic_mlops.providers.anthropic_provider import AnthropicProvider

    return AnthropicProvider(settings)


class LazyProvider(OrchestrationProvider):
    """A provider created on first use (functions that may never need one do not pay for
    importing its SDK)."""

    def __init__(self, factory: Callable[[], OrchestrationProvider]) -> None:
        self._factory = factory
        self._provider: OrchestrationProvider | None = None
        self._lock = threading.Lock()

    @property
    def target(self) -> OrchestrationProvider:
        """The provider itself (created now if needed)."""
        with self._lock:
            if self._provider is None:
                self._provider = self._factory()
            return self._provider

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.target.name

    @property
    def model(self) -> str:  # type: ignore[override]
        return self.target.model

    def pack_hash(self) -> str:
        return self.target.pack_hash()

    def extract_constraints(
        self, request: str, answers: dict[str, str]
    ) -> ProviderResult[Extraction]:
        return self.target.extract_constraints(request, answers)

    def parse_answer(self, field: str, value: str) -> Any:
        return self.target.parse_answer(field, value)

    def ask_questions(
        self, constraints: ConstraintSchema, missing: list[str]
    ) -> ProviderResult[list[Question]]:
        return self.target.ask_questions(constraints, missing)

    def plan(self, constraints: ConstraintSchema) -> ProviderResult[Plan]:
        return self.target.plan(constraints)

    def critique_technical(
        self, constraints: ConstraintSchema, plan: Plan
    ) -> ProviderResult[TechnicalCritique]:
        return self.target.critique_technical(constraints, plan)

    def critique_cost(
        self, constraints: ConstraintSchema, plan: Plan, estimate: CostEstimate
    ) -> ProviderResult[list[Finding]]:
        return self.target.critique_cost(constraints, plan, estimate)

    def interpret_feedback(
        self, comment: str, constraints: ConstraintSchema
    ) -> ProviderResult[tuple[ConstraintSchema, FeedbackResult]]:
        return self.target.interpret_feedback(comment, constraints)

    def __getattr__(self, name: str) -> Any:
        # Anything else a provider offers (its breakers, its client...).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.target, name)
