"""Code generation: renders the repository of an approved plan."""

from __future__ import annotations

from agentic_mlops.codegen.agent import (
    AgentCodeGen,
    CodeGenOutcome,
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
    "create_codegen",
    "generate_with_outcome",
]


def create_codegen(choice: str = "offline", *, agent_model: str | None = None) -> CodeGenProvider:
    """The code generator the settings choose (``AGENTIC_MLOPS_CODEGEN``): ``offline``
    renders the deterministic templates; ``agent`` lets a Claude agent write the
    repository, with the templates as fallback.

    Raises:
        InvalidInput: if no generator has that name.
    """
    if choice in ("offline", OfflineCodeGen.name):
        return OfflineCodeGen()
    if choice in ("agent", AgentCodeGen.name):
        return AgentCodeGen(model=agent_model)
    raise InvalidInput(f"unknown code generator {choice!r}; expected 'offline' or 'agent'")
