"""The REST API's request and response bodies (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentic_mlops.domain.state import MAX_REQUEST_CHARS

_FIELD_CHARS = 2000


class ErrorDetail(BaseModel):
    """What went wrong, with a stable code."""

    code: str = Field(description="Stable, machine-readable error code.", examples=["not_found"])
    message: str = Field(description="One readable line.")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="Per-field problems of an invalid request."
    )


class ErrorBody(BaseModel):
    """Every error response of the API."""

    error: ErrorDetail


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewProject(_Strict):
    """``POST /projects``."""

    name: str = Field(min_length=1, max_length=200, pattern=r"\S")


class ProjectOut(BaseModel):
    """A project."""

    id: str
    name: str
    created_at: str
    created: bool = Field(description="False when a project with that name existed already.")


Answers = dict[str, str]


class NewDecisionSet(_Strict):
    """``POST /projects/{project_id}/decision-sets``."""

    request: str = Field(
        min_length=1, max_length=MAX_REQUEST_CHARS, description="The ML workload in plain words."
    )
    answers: Answers = Field(
        default_factory=dict, description="Answers given up front: field -> text."
    )


class AnswersIn(_Strict):
    """``POST /decision-sets/{id}/answers``."""

    answers: Answers = Field(min_length=1, description="field -> text, e.g. budget: $1,500/month")


class ApprovalIn(_Strict):
    """``POST /decision-sets/{id}/approval``."""

    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=4000)


class RevisionIn(_Strict):
    """``POST /decision-sets/{id}/revisions``."""

    change: str = Field(min_length=1, max_length=_FIELD_CHARS)
    answers: Answers = Field(default_factory=dict)


class PendingWait(BaseModel):
    """An open question round or approval gate (its id is the approval id)."""

    id: str
    kind: Literal["question", "approval"]
    request: dict[str, Any]
    created_at: str


class DecisionSetView(BaseModel):
    """A decision set: where it stands and what it decided so far."""

    id: str
    project_id: str
    parent_id: str | None
    status: str
    version: int
    request: str
    last_event_seq: int
    commit_sha: str | None
    created_at: str
    updated_at: str
    constraints: dict[str, Any] | None = None
    coverage: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    technical_critique: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    feedback: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    bundle: dict[str, Any] | None = None
    commit: dict[str, Any] | None = None
    pending: PendingWait | None = None
    change_summary: dict[str, Any] | None = Field(
        default=None,
        description="State diff and git diff against the parent decision set (revisions).",
    )
    stream_abandoned: bool = False
    links: dict[str, str] = Field(default_factory=dict)


class EventOut(BaseModel):
    """One timeline event."""

    type: str
    seq: int
    decision_set_id: str
    node: str | None
    payload: dict[str, Any]
    created_at: str
    checkpoint_id: str | None = None


class EventsPage(BaseModel):
    """A page of the timeline; pass ``next_after`` as ``after`` for the next page."""

    events: list[EventOut]
    next_after: int | None


class ApprovalOut(BaseModel):
    """The decision recorded at the approval gate."""

    decision_set_id: str
    approval_id: str
    decision: Literal["approve", "reject"]
    approver: str
    comment: str | None
    replayed: bool = Field(description="True when this decision had been recorded already.")
    status: str


class BundleOut(BaseModel):
    """Where to download the generated repository."""

    url: str
    key: str
    sha256: str
    size: int
    expires_in: int
