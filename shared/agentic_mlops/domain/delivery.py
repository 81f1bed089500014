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


ValidationOutcome = Literal["passed", "passed_with_skips", "failed"]
"""``failed`` when any validator failed or errored; ``passed_with_skips`` when none did but
at least one could not run (each skip is listed with its reason); ``passed`` otherwise."""


class ValidationSkip(BaseModel):
    """A validator that did not run, and why (a missing tool is a skip, never a failure)."""

    validator: str
    reason: str


class ValidationReport(BaseModel):
    """Every validator's result and the bundle's outcome.

    ``passed`` means "not failed" (``outcome`` is ``passed`` or ``passed_with_skips``); read
    ``outcome`` and ``skips`` to know whether everything ran.
    """

    passed: bool
    outcome: ValidationOutcome = "passed"
    skips: list[ValidationSkip] = Field(default_factory=list)
    counts: dict[str, int] = Field(description="Findings per severity.")
    validators: list[ValidatorResult]
    isolation: str = Field(description="How the sandbox was isolated (network, environment).")

    def verdict(self) -> str:
        """Return the outcome in words, naming the skipped validators.

        Returns:
            ``passed``, ``passed with skips (terraform-validate, tests)`` or ``FAILED (lint)``.
        """
        if self.outcome == "failed":
            failing = [v.name for v in self.validators if v.status in ("failed", "error")]
            return "FAILED" + (f" ({', '.join(failing)})" if failing else "")
        if self.skips:
            return f"passed with skips ({', '.join(s.validator for s in self.skips)})"
        return "passed"


class BundleRef(BaseModel):
    """The stored, content-addressed bundle (sources plus reports)."""

    key: str
    sha256: str
    size: int
    store: str


class PushRef(BaseModel):
    """The generated repository pushed as a branch of the team's git remote."""

    remote: str = Field(description="The remote URL, without credentials.")
    branch: str
    sha: str
    created: bool = Field(description="False when the branch already held the same files.")


class CommitRef(BaseModel):
    """The commit of the plan documents in the project's history."""

    sha: str
    parent_sha: str | None = None
    files: list[str] = Field(default_factory=list)
    delivery: PushRef | None = Field(
        default=None, description="Where the generated repository was pushed (opt-in)."
    )
