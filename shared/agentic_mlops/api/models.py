"""The REST API's request and response bodies (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from agentic_mlops.domain.constraints import ANSWERABLE_FIELDS
from agentic_mlops.domain.state import MAX_REQUEST_CHARS
from agentic_mlops.service.inputs import (
    MAX_ANSWER_CHARS,
    MAX_CHANGE_CHARS,
    MAX_COMMENT_CHARS,
    MAX_NAME_CHARS,
    MAX_SEQ,
    REQUIRED_TEXT_PATTERN,
    TEXT_PATTERN,
)


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

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=REQUIRED_TEXT_PATTERN)


class ProjectOut(BaseModel):
    """A project."""

    id: str
    name: str
    created_at: str
    created: bool = Field(description="False when a project with that name existed already.")


AnswerText = Annotated[
    str, Field(min_length=1, max_length=MAX_ANSWER_CHARS, pattern=REQUIRED_TEXT_PATTERN)
]
Answers = create_model(  # type: ignore[call-overload]
    "Answers",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Answers by field, read like the request (`budget: $1,500/month`).",
    **{name: (AnswerText, None) for name in ANSWERABLE_FIELDS},
)


class SomeAnswers(Answers):  # type: ignore[valid-type,misc]
    """Answers, at least one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _at_least_one(self) -> SomeAnswers:
        if not answers_of(self):
            raise ValueError("give at least one answer")
        return self


def answers_of(model: BaseModel) -> dict[str, str]:
    """The answers given (the fields set)."""
    return {k: v for k, v in model.model_dump(exclude_none=True).items()}


PlanHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class NewDecisionSet(_Strict):
    """``POST /projects/{project_id}/decision-sets``."""

    request: str = Field(
        min_length=1,
        max_length=MAX_REQUEST_CHARS,
        pattern=REQUIRED_TEXT_PATTERN,
        description="The ML workload in plain words.",
    )
    answers: Answers = Field(  # type: ignore[valid-type]
        default_factory=Answers, description="Answers given up front: field -> text."
    )


class AnswersIn(_Strict):
    """``POST /decision-sets/{id}/answers``."""

    answers: SomeAnswers = Field(
        description="field -> text, e.g. budget: $1,500/month (one at least)"
    )


class ApprovalIn(_Strict):
    """``POST /decision-sets/{id}/approval``."""

    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS, pattern=TEXT_PATTERN)
    plan_hash: PlanHash | None = Field(
        default=None,
        description="The hash of the plan the approver was shown (pending.request.plan_hash);"
        " a plan that changed meanwhile is refused with 409 stale_plan.",
    )


class RevisionIn(_Strict):
    """``POST /decision-sets/{id}/revisions``."""

    change: str | None = Field(
        default=None, min_length=1, max_length=MAX_CHANGE_CHARS, pattern=REQUIRED_TEXT_PATTERN
    )
    answers: Answers = Field(default_factory=Answers)  # type: ignore[valid-type]
    from_seq: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SEQ,
        description="Fork: start from the constraints as they stood at this event of the"
        " decision set's timeline (it must be one of its events).",
    )


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
    repository: dict[str, Any] | None = None
    bundle: dict[str, Any] | None = None
    commit: dict[str, Any] | None = None
    forked_from: dict[str, Any] | None = None
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
    plan_hash: str | None = Field(default=None, description="The plan the decision approved.")


class BundleOut(BaseModel):
    """Where to download the generated repository."""

    url: str
    key: str
    sha256: str
    size: int
    expires_in: int


class MeOut(BaseModel):
    """The caller: who they are and their roles per project (``*`` = every project)."""

    user: str
    roles: dict[str, list[str]]


class ProjectView(BaseModel):
    """A project with the caller's roles on it."""

    id: str
    name: str
    created_at: str
    roles: list[str]


class ProjectsPage(BaseModel):
    """The projects the caller has a role on."""

    projects: list[ProjectView]


class DecisionSetSummary(BaseModel):
    """A decision set as a listing shows it."""

    id: str
    project_id: str
    parent_id: str | None
    status: str
    request: str
    created_at: str
    updated_at: str
    plan_name: str | None = None
    region: str | None = None
    monthly_total_usd: float | None = None
    budget_monthly_usd: float | None = None
    policy: str | None = None
    technical_verdict: str | None = None
    validation_outcome: str | None = None
    pending_kind: str | None = None
    commit_sha: str | None = None


class SummariesPage(BaseModel):
    """Decision sets, newest first."""

    decision_sets: list[DecisionSetSummary]


class ApprovalSummary(BaseModel):
    """An approval waiting for the caller's decision."""

    approval_id: str
    decision_set_id: str
    project_id: str
    project_name: str
    created_at: str
    request: str
    plan: str | None = None
    plan_hash: str | None = None
    region: str | None = None
    monthly_total_usd: float | None = None
    budget_monthly_usd: float | None = None
    policy: str | None = None
    failed_rules: list[str] = Field(default_factory=list)
    technical_verdict: str | None = None


class ApprovalsPage(BaseModel):
    """The approvals waiting for the caller, oldest first."""

    approvals: list[ApprovalSummary]


class FileEntry(BaseModel):
    """A file of the generated repository."""

    path: str
    size: int
    sha256: str


class FilesPage(BaseModel):
    """The files of the generated repository (sources and ``reports/``)."""

    files: list[FileEntry]


class FileOut(FileEntry):
    """One text file of the generated repository."""

    content: str
