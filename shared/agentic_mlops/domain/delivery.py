"""What happens after approval: the generated repository, its validation, the bundle, the commit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

FindingSeverity = Literal["info", "low", "medium", "high", "critical"]


class RepoFile(BaseModel):
    """One file of the generated repository."""

    path: str
    sha256: str
    size: int


class GeneratedRepository(BaseModel):
    """A reference to the generated repository (its files live in the artifact store)."""

    source_key: str = Field(description="Artifact key of the deterministic zip of the sources.")
    source_sha256: str
    files: list[RepoFile]
    generator: str
    template_hash: str


class ValidationFinding(BaseModel):
    """One problem a validator found."""

    validator: str
    rule: str
    severity: FindingSeverity
    file: str | None = None
    line: int | None = None
    message: str


class ValidatorResult(BaseModel):
    """The outcome of one validator. ``skipped`` is never counted as passed."""

    name: str
    status: Literal["passed", "failed", "skipped", "error"]
    detail: str = ""
    findings: list[ValidationFinding] = Field(default_factory=list)
    duration_ms: float = 0.0


class ValidationReport(BaseModel):
    """Every validator's result; ``passed`` when nothing of high or critical severity failed."""

    passed: bool
    counts: dict[str, int] = Field(description="Findings per severity.")
    validators: list[ValidatorResult]
    isolation: str = Field(description="How the sandbox was isolated (network, environment).")


class BundleRef(BaseModel):
    """The stored, content-addressed bundle (sources plus reports)."""

    key: str
    sha256: str
    size: int
    store: str


class CommitRef(BaseModel):
    """The commit of the plan documents in the project's history."""

    sha: str
    parent_sha: str | None = None
    files: list[str] = Field(default_factory=list)
