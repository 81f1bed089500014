"""The structured constraints extracted from a user's request, and their coverage."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field


class DeploymentMode(StrEnum):
    """How predictions are served."""

    BATCH = "batch"
    REAL_TIME = "real_time"
    STREAMING = "streaming"


class DataSensitivity(StrEnum):
    """Regulated data classes present in the workload's data."""

    PII = "pii"
    PHI = "phi"
    PCI = "pci"


class Residency(StrEnum):
    """Geographic area the data must stay in."""

    EU = "eu"
    US = "us"
    UK = "uk"
    CA = "ca"
    APAC = "apac"
    DE = "de"
    CH = "ch"
    IE = "ie"
    FR = "fr"
    SE = "se"
    IT = "it"
    ES = "es"
    JP = "jp"
    KR = "kr"
    SG = "sg"
    AU = "au"
    IN = "in"
    HK = "hk"
    BR = "br"
    AE = "ae"
    ZA = "za"


class Budget(BaseModel):
    """A budget as the user stated it, normalised to US dollars per month."""

    model_config = ConfigDict(frozen=True)

    amount: float = Field(gt=0, description="Amount in the stated currency and period.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    period: str = Field(default="month", pattern=r"^(hour|day|week|month|quarter|year)$")
    monthly_usd: float = Field(gt=0, description="Normalised monthly budget in USD.")


class ConstraintSchema(BaseModel):
    """Everything the planner needs to know about an ML workload.

    Mandatory fields (see :data:`MANDATORY_FIELDS`) must be known before planning;
    ``latency_p99_ms`` becomes mandatory for real-time serving.
    """

    model_config = ConfigDict(extra="forbid")

    summary: str | None = Field(default=None, description="One-line description of the workload.")
    problem_type: str | None = Field(
        default=None,
        description="classification, regression, forecasting, recommendation, nlp, "
        "computer_vision, llm_fine_tuning, anomaly_detection.",
    )
    prediction_target: str | None = Field(
        default=None, description="What the model predicts, in the user's words."
    )
    deployment_mode: DeploymentMode | None = None
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    data_residency: Residency | None = None
    budget: Budget | None = None
    data_volume_gb: float | None = Field(default=None, ge=0)
    data_growth_gb_per_month: float | None = Field(
        default=None, ge=0, description="Ingest rate: new data per month."
    )
    latency_p99_ms: int | None = Field(default=None, gt=0)
    latency_p95_ms: int | None = Field(
        default=None, gt=0, description="A p95 target, kept apart from the p99 one."
    )
    throughput_rps: float | None = Field(default=None, gt=0)
    data_sensitivity: list[DataSensitivity] | None = Field(
        default=None, description="Empty list means the data holds no regulated classes."
    )
    compliance: list[str] = Field(default_factory=list, description="e.g. GDPR, HIPAA, SOC2.")
    frameworks: list[str] = Field(default_factory=list, description="e.g. xgboost, pytorch.")
    retraining_cadence: str | None = Field(
        default=None, description="hourly, daily, weekly, monthly, quarterly or on_demand."
    )
    team_skills: list[str] = Field(default_factory=list)
    preferred_services: list[str] = Field(default_factory=list)
    avoided_services: list[str] = Field(default_factory=list)
    gpu_required: bool | None = None
    use_spot_training: bool | None = None
    high_availability: bool | None = None

    @property
    def latency_target_ms(self) -> int | None:
        """The latency target to design for: the p99 one, else the p95 one."""
        return self.latency_p99_ms if self.latency_p99_ms is not None else self.latency_p95_ms

    def missing_mandatory(self) -> list[str]:
        """Return the mandatory fields still unknown, in asking order."""
        missing = [name for name in MANDATORY_FIELDS if not _is_known(name, getattr(self, name))]
        if self.deployment_mode == DeploymentMode.REAL_TIME and self.latency_target_ms is None:
            missing.append("latency_p99_ms")
        return missing

    def missing_to_ask(self) -> list[str]:
        """Return the fields to ask about: the mandatory ones, then what to predict.

        When questions are asked, the problem type (and with it the prediction target) is
        asked too while it is unknown; it is not mandatory for planning.
        """
        missing = self.missing_mandatory()
        if missing and self.problem_type is None:
            missing.append("problem_type")
        return missing

    def mandatory_for(self) -> list[str]:
        """Return the mandatory fields for this workload (conditional ones included)."""
        fields = list(MANDATORY_FIELDS)
        if self.deployment_mode == DeploymentMode.REAL_TIME:
            fields.append("latency_p99_ms")
        return fields

    def coverage(self) -> CoverageReport:
        """Score how much of the schema is known.

        Mandatory fields weigh three times as much as optional ones; the run may
        proceed to planning only when every mandatory field is known.
        """
        mandatory = self.mandatory_for()
        optional = [f for f in OPTIONAL_FIELDS if f not in mandatory]
        known_mandatory = [f for f in mandatory if _is_known(f, getattr(self, f))]
        known_optional = [f for f in optional if _is_known(f, getattr(self, f))]
        weight_total = 3 * len(mandatory) + len(optional)
        weight_known = 3 * len(known_mandatory) + len(known_optional)
        return CoverageReport(
            score=round(weight_known / weight_total, 3),
            mandatory_known=len(known_mandatory),
            mandatory_total=len(mandatory),
            missing_mandatory=self.missing_mandatory(),
            known_optional=known_optional,
        )


def _is_known(name: str, value: object) -> bool:
    """A field is known when set; an empty list counts only for ``data_sensitivity``."""
    if value is None:
        return False
    if isinstance(value, list) and not value:
        return name == "data_sensitivity"
    return True


MANDATORY_FIELDS: tuple[str, ...] = (
    "deployment_mode",
    "region",
    "data_volume_gb",
    "budget",
    "data_sensitivity",
)
"""Fields that must be known before planning, in the order they are asked."""

OPTIONAL_FIELDS: tuple[str, ...] = (
    "problem_type",
    "data_residency",
    "latency_p99_ms",
    "throughput_rps",
    "compliance",
    "frameworks",
    "retraining_cadence",
    "team_skills",
    "preferred_services",
    "gpu_required",
)

DETAIL_FIELDS: tuple[str, ...] = ("prediction_target", "latency_p95_ms", "data_growth_gb_per_month")
"""Answerable details that refine other fields; they do not count towards coverage."""

ANSWERABLE_FIELDS: tuple[str, ...] = (
    *MANDATORY_FIELDS,
    *OPTIONAL_FIELDS,
    *DETAIL_FIELDS,
    "summary",
)
"""Fields a user may answer directly (``--answer FIELD=VALUE``)."""


class CoverageReport(BaseModel):
    """How complete the constraints are."""

    score: float = Field(ge=0, le=1)
    mandatory_known: int
    mandatory_total: int
    missing_mandatory: list[str]
    known_optional: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complete(self) -> bool:
        """True when every mandatory field is known."""
        return not self.missing_mandatory


class Question(BaseModel):
    """A follow-up question for one missing field."""

    field: str
    question: str
    why: str
    examples: list[str] = Field(default_factory=list)
