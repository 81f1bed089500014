"""Validation of the generated repository in a sandbox before it is bundled."""

from agentic_mlops.validation.reports import build_report, render_reports
from agentic_mlops.validation.sandbox import (
    Sandbox,
    SandboxResult,
    describe_isolation,
    run_sandboxed,
)
from agentic_mlops.validation.validators import (
    checkov_severity,
    loaded_distributions,
    validate_repository,
)

__all__ = [
    "Sandbox",
    "SandboxResult",
    "build_report",
    "checkov_severity",
    "describe_isolation",
    "loaded_distributions",
    "render_reports",
    "run_sandboxed",
    "validate_repository",
]
