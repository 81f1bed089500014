"""Code generation: renders the repository of an approved plan."""

from __future__ import annotations

from agentic_mlops.codegen.agent import (
    AgentCodeGen,
    CodeGenOutcome,
    codegen_from_env,
    generate_with_outcome,
)
from agentic_mlops.codegen.base import CodeGenProvider
from agentic_mlops.codegen.offline import OfflineCodeGen
from agentic_mlops.errors import InvalidInput

__all__ = [
    "AgentCodeGen",
    "CodeGenOutcome",
    "CodeGenProvider",
    "OfflineCodeGen",
    "generate_with_outcome",
    "get_codegen",
]


def get_codegen(name: str | None = None) -> CodeGenProvider:
    """Return a code generator by name.

    Args:
        name: ``offline`` (or ``offline-templates``), the deterministic template renderer;
            ``agent`` (or ``claude-agent``), a Claude agent with the templates as fallback;
            None reads ``AGENTIC_MLOPS_CODEGEN`` (default ``offline``).

    Returns:
        A new code generator.

    Raises:
        InvalidInput: if no generator has that name.
    """
    if name is None:
        return codegen_from_env()
    if name in ("offline", OfflineCodeGen.name):
        return OfflineCodeGen()
    if name in ("agent", AgentCodeGen.name):
        return AgentCodeGen()
    raise InvalidInput(f"unknown code generator {name!r}; expected 'offline' or 'agent'")
