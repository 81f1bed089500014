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


class ProviderCall(BaseModel):
    """Who actually answered a provider call, with what, and why: the audit trail.

    LLM-backed providers attach one to every result (the offline provider needs none: its
    identity is the provider's own). A fallback names the provider that answered in the end
    and the reason the ones before it did not.
    """

    provider: str
    model: str
    few_shot_pack_hash: str = Field(description="sha256 of the canonical few-shot pack.")
    few_shot_pack: str | None = Field(default=None, description="The pack's name@version.")
    prompt_digest: str | None = Field(
        default=None, description="sha256 of the canonical JSON of the first request body."
    )
    attempts: int = Field(default=1, ge=0, description="Model turns the answer took.")
    fallback_reason: str | None = None


class ProviderResult(BaseModel, Generic[T]):
    """A provider's output together with its explanation (and who answered)."""

    value: T
    explanation: Explanation
    metadata: ProviderCall | None = None


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
    few_shot_pack: str | None = Field(default=None, description="The pack's name@version.")
    prompt_digest: str | None = Field(
        default=None, description="sha256 of the canonical request body sent to the model."
    )
    attempts: int | None = Field(default=None, description="Model turns the answer took.")
    fallback_reason: str | None = Field(
        default=None, description="Why the providers before the one that answered did not."
    )
