"""Domain models of the platform (Pydantic v2).

Each model is imported from its module on first use: a process that needs one model (an
identity, a settings group) does not build every schema of the platform.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentic_mlops.domain.approval import (
        ApprovalDecision,
        ApprovalRecheck,
        ConstraintChange,
        FeedbackResult,
    )
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

_EXPORTS = {
    "ANSWERABLE_FIELDS": "agentic_mlops.domain.constraints",
    "Alternative": "agentic_mlops.domain.plan",
    "ApprovalDecision": "agentic_mlops.domain.approval",
    "ApprovalRecheck": "agentic_mlops.domain.approval",
    "Budget": "agentic_mlops.domain.constraints",
    "BundleRef": "agentic_mlops.domain.delivery",
    "CommitRef": "agentic_mlops.domain.delivery",
    "Component": "agentic_mlops.domain.plan",
    "ConstraintChange": "agentic_mlops.domain.approval",
    "ConstraintSchema": "agentic_mlops.domain.constraints",
    "CostEstimate": "agentic_mlops.domain.assessment",
    "CostLineItem": "agentic_mlops.domain.assessment",
    "CoverageReport": "agentic_mlops.domain.constraints",
    "DataSensitivity": "agentic_mlops.domain.constraints",
    "DeploymentMode": "agentic_mlops.domain.constraints",
    "EncryptionPlan": "agentic_mlops.domain.plan",
    "Explanation": "agentic_mlops.domain.reasoning",
    "FeedbackResult": "agentic_mlops.domain.approval",
    "Finding": "agentic_mlops.domain.assessment",
    "GeneratedRepository": "agentic_mlops.domain.delivery",
    "IntakeState": "agentic_mlops.domain.state",
    "MANDATORY_FIELDS": "agentic_mlops.domain.constraints",
    "MLOpsProjectState": "agentic_mlops.domain.state",
    "NetworkPlan": "agentic_mlops.domain.plan",
    "Plan": "agentic_mlops.domain.plan",
    "PolicyReport": "agentic_mlops.domain.assessment",
    "PolicyResult": "agentic_mlops.domain.assessment",
    "ProviderCall": "agentic_mlops.domain.reasoning",
    "ProviderResult": "agentic_mlops.domain.reasoning",
    "Question": "agentic_mlops.domain.constraints",
    "ReasonCard": "agentic_mlops.domain.reasoning",
    "RepoFile": "agentic_mlops.domain.delivery",
    "Residency": "agentic_mlops.domain.constraints",
    "TechnicalCritique": "agentic_mlops.domain.assessment",
    "ValidationFinding": "agentic_mlops.domain.delivery",
    "ValidationReport": "agentic_mlops.domain.delivery",
    "ValidatorResult": "agentic_mlops.domain.delivery",
}

__all__ = [
    "ANSWERABLE_FIELDS",
    "MANDATORY_FIELDS",
    "Alternative",
    "ApprovalDecision",
    "ApprovalRecheck",
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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
