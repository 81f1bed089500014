"""Critiques, cost estimates and policy results for a plan."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class Finding(BaseModel):
    """A weakness or recommendation raised by a critic."""

    id: str
    severity: Severity
    title: str
    detail: str
    recommendation: str
    component_id: str | None = None
    estimated_monthly_saving_usd: float | None = None


class TechnicalCritique(BaseModel):
    """The technical critic's review of a plan."""

    verdict: Literal["sound", "sound_with_risks", "unsound"]
    summary: str
    findings: list[Finding] = Field(default_factory=list)


class CostLineItem(BaseModel):
    """One priced line of a cost estimate."""

    component_id: str
    service: str
    description: str
    unit: str
    unit_price_usd: float = Field(ge=0)
    quantity: float = Field(ge=0)
    monthly_usd: float = Field(ge=0)
    assumptions: list[str] = Field(default_factory=list)
    environment: Literal["staging", "prod"] = "prod"
    """The environment the generated Terraform provisions this line in."""


class EnvironmentCost(BaseModel):
    """The monthly subtotal of one provisioned environment."""

    name: Literal["staging", "prod"]
    monthly_usd: float = Field(ge=0)
    notes: list[str] = Field(default_factory=list)


class CostEstimate(BaseModel):
    """A monthly cost estimate of a plan, priced from the shipped catalogue."""

    def environment_total(self, name: str) -> float:
        """Return the monthly subtotal of one environment (0 when it is not priced)."""
        return round(sum(i.monthly_usd for i in self.line_items if i.environment == name), 2)

    currency: Literal["USD"] = "USD"
    region: str
    region_multiplier: float
    monthly_total_usd: float = Field(ge=0)
    line_items: list[CostLineItem]
    environments: list[EnvironmentCost] = Field(default_factory=list)
    """Staging and prod subtotals; ``monthly_total_usd`` is their sum."""
    assumptions: list[str] = Field(default_factory=list)
    catalogue_source: str
    catalogue_date: str
    budget_monthly_usd: float | None = None
    within_budget: bool | None = None
    findings: list[Finding] = Field(default_factory=list)


class PolicyResult(BaseModel):
    """The outcome of one policy rule."""

    rule_id: str
    title: str
    severity: Severity
    status: Literal["pass", "fail", "not_applicable"]
    evidence: str

    @property
    def passed(self) -> bool:
        """True unless the rule failed."""
        return self.status != "fail"


class PolicyReport(BaseModel):
    """All policy results for a plan, with the overall verdict.

    The overall verdict fails when any rule of severity ``high`` or ``critical`` fails;
    lower-severity failures are reported as warnings.
    """

    overall: Literal["pass", "fail"]
    ruleset: str
    ruleset_hash: str
    results: list[PolicyResult]

    def failed(self) -> list[PolicyResult]:
        """Return the rules that failed."""
        return [r for r in self.results if r.status == "fail"]
