"""Domain models of the platform (Pydantic v2)."""

from agentic_mlops.domain.approval import ApprovalDecision, ConstraintChange, FeedbackResult
from agentic_mlops.domain.assessment import (
    CostEstimate,
    CostLineItem,
    Finding,
    PolicyReport,
    PolicyResult,
    TechnicalCritique,
)
from agentic_mlops.domain.constraints import (
    ANSWERABLE_FIELDS,
    MANDATORY_FIELDS,
    Budget,
    ConstraintSchema,
    CoverageReport,
    DataSensitivity,
    DeploymentMode,
    Question,
    Residency,
)
from agentic_mlops.domain.delivery import (
    BundleRef,
    CommitRef,
    GeneratedRepository,
    RepoFile,
    ValidationFinding,
    ValidationReport,
    ValidatorResult,
)
from agentic_mlops.domain.plan import Alternative, Component, EncryptionPlan, NetworkPlan, Plan
from agentic_mlops.domain.reasoning import Explanation, ProviderCall, ProviderResult, ReasonCard
from agentic_mlops.domain.state import IntakeState, MLOpsProjectState

__all__ = [
    "ANSWERABLE_FIELDS",
    "MANDATORY_FIELDS",
    "Alternative",
    "ApprovalDecision",
    "Budget",
    "BundleRef",
    "CommitRef",
    "Component",
    "ConstraintChange",
    "ConstraintSchema",
    "CostEstimate",
    "CostLineItem",
    "CoverageReport",
    "DataSensitivity",
    "DeploymentMode",
    "EncryptionPlan",
    "Explanation",
    "FeedbackResult",
    "Finding",
    "GeneratedRepository",
    "IntakeState",
    "MLOpsProjectState",
    "NetworkPlan",
    "Plan",
    "PolicyReport",
    "PolicyResult",
    "ProviderCall",
    "ProviderResult",
    "Question",
    "ReasonCard",
    "RepoFile",
    "Residency",
    "TechnicalCritique",
    "ValidationFinding",
    "ValidationReport",
    "ValidatorResult",
]
