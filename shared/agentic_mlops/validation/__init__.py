"""Validation of the generated repository in a sandbox before it is bundled.

The names below are imported on first use: the validators pull in hcl2, detect-secrets and
the sandbox, which a process reading only its settings (``validation.config``) never needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_report": "agentic_mlops.validation.reports",
    "render_reports": "agentic_mlops.validation.reports",
    "Sandbox": "agentic_mlops.validation.sandbox",
    "SandboxResult": "agentic_mlops.validation.sandbox",
    "describe_isolation": "agentic_mlops.validation.sandbox",
    "run_sandboxed": "agentic_mlops.validation.sandbox",
    "checkov_severity": "agentic_mlops.validation.validators",
    "loaded_distributions": "agentic_mlops.validation.validators",
    "validate_repository": "agentic_mlops.validation.validators",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
