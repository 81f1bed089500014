"""The code generation interface."""

from __future__ import annotations

from abc import ABC, abstractmethod

from agentic_mlops.domain import MLOpsProjectState


class CodeGenProvider(ABC):
    """Renders the repository for an approved plan.

    Implementations must be deterministic for the same state: the same plan and
    constraints give byte-identical files.
    """

    name: str

    @abstractmethod
    def template_hash(self) -> str:
        """Return the content hash of the templates (recorded with the generated repository)."""

    @abstractmethod
    def generate(self, state: MLOpsProjectState) -> dict[str, str]:
        """Return the repository's files: POSIX relative path -> text content.

        The state has an approved ``plan`` and the final ``constraints`` (after the
        approver's comment, which the generated code must reflect).
        """
