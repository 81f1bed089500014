"""Where the validators find their programs, resolved once from the validation settings.

Nothing here reads the environment: :func:`~agentic_mlops.composition.validation_tools`
resolves the tools from the process's settings; a library caller without settings gets the
defaults (:meth:`ValidationTools.defaults`: under ``~/.agentic-mlops/tools``, then PATH).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from agentic_mlops.configfield import DEFAULT_HOME
from agentic_mlops.validation.config import ValidationSettings

TOOLS_ENV = "AGENTIC_MLOPS_VALIDATOR_TOOLS"
CHECKOV_ENV = "AGENTIC_MLOPS_CHECKOV"
TERRAFORM_ENV = "AGENTIC_MLOPS_TERRAFORM"
TF_PLUGIN_DIR_ENV = "AGENTIC_MLOPS_TF_PLUGIN_DIR"


def executable(candidate: str | Path | None) -> str | None:
    """Return ``candidate`` when it is an executable file."""
    if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


@dataclass(frozen=True)
class ValidationTools:
    """The validators' programs.

    Attributes:
        tools_dir: The validators' virtualenv (pytest, ruff, the SageMaker SDK, moto), which
            ``scripts/bootstrap`` installs from ``tools/validators/requirements.txt``.
        checkov: The checkov program (its own virtualenv), or None when missing.
        terraform: The terraform program, or None when missing.
        tf_plugin_dir: A local provider mirror for ``terraform init``, or None.
    """

    tools_dir: Path
    checkov: str | None
    terraform: str | None
    tf_plugin_dir: Path | None

    @classmethod
    def resolve(cls, settings: ValidationSettings, home: Path) -> ValidationTools:
        """Find each tool: the setting, else what ``scripts/bootstrap`` installed under
        ``home/tools``, else PATH; a tool not found is None (its validator is skipped)."""
        tools = home / "tools"
        checkov = next(
            filter(
                None,
                (
                    executable(settings.checkov),
                    executable(tools / "checkov" / "bin" / "checkov"),
                    executable(shutil.which("checkov")),
                ),
            ),
            None,
        )
        terraform = executable(settings.terraform or shutil.which("terraform"))
        mirror = settings.tf_plugin_dir or tools / "terraform" / "plugins"
        return cls(
            tools_dir=settings.tools_dir or tools / "validators",
            checkov=checkov,
            terraform=terraform,
            tf_plugin_dir=mirror if mirror.is_dir() else None,
        )

    @classmethod
    def defaults(cls) -> ValidationTools:
        """The tools with default settings (library callers that have no settings)."""
        return cls.resolve(ValidationSettings(), DEFAULT_HOME.expanduser())

    def tool(self, name: str) -> str | None:
        """Return a program of the validators' virtualenv (``python``, ``ruff``), if installed."""
        return executable(self.tools_dir / "bin" / name)

    @property
    def python(self) -> str | None:
        """The validators' Python interpreter, or None when the tools are not installed."""
        return self.tool("python")

    def missing_tools_reason(self, what: str) -> str:
        """Return the skip reason of a validator whose tools are not installed."""
        return (
            f"{what}: the validators' tools are not installed in {self.tools_dir} "
            f"(scripts/bootstrap installs them from tools/validators/requirements.txt, "
            f"or set ${TOOLS_ENV})"
        )
