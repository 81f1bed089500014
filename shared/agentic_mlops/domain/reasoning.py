"""Reason Cards and the explanation every provider call returns."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from agentic_mlops.domain.plan import Alternative

T = TypeVar("T")


class Explanation(BaseModel):
    """Why a provider produced its output."""

    decision: str
    rationale: str
    alternatives: list[Alternative] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)


class ProviderResult(BaseModel, Generic[T]):
    """A provider's output together with its explanation."""

    value: T
    explanation: Explanation


class ReasonCard(BaseModel):
    """What a node decided and why; streamed to the user and kept in the timeline."""

    node: str
    decision: str
    rationale: str
    alternatives: list[Alternative] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    inputs_digest: str = Field(description="sha256 of the canonical JSON of the node's input.")
    provider: str
    model: str
    few_shot_pack_hash: str
    started_at: str
    duration_ms: float = Field(ge=0)
