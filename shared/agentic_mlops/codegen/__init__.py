"""Code generation: renders the repository of an approved plan."""

from __future__ import annotations

from agentic_mlops.codegen.base import CodeGenProvider
from agentic_mlops.codegen.offline import OfflineCodeGen
from agentic_mlops.errors import InvalidInput

__all__ = ["CodeGenProvider", "OfflineCodeGen", "get_codegen"]


def get_codegen(name: str = "offline") -> CodeGenProvider:
    """Return a code generator by name.

    Args:
        name: ``offline`` (or ``offline-templates``), the deterministic template renderer.

    Returns:
        A new code generator.

    Raises:
        InvalidInput: if no generator has that name.
    """
    if name in ("offline", OfflineCodeGen.name):
        return OfflineCodeGen()
    raise InvalidInput(f"unknown code generator {name!r}; expected 'offline'")
