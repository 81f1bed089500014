"""Where the validators' tools are, and where validation runs (two settings groups)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from agentic_mlops.configfield import SettingsGroup, env_field


class ValidationSettings(SettingsGroup):
    """The validators' tools (on this machine, or baked into the validator image)."""

    tools_dir: Path | None = env_field(
        "AGENTIC_MLOPS_VALIDATOR_TOOLS",
        description="the validators' virtualenv (pytest, ruff, the SageMaker SDK, moto:"
        " `tools/validators/requirements.txt`, installed by `scripts/bootstrap`; missing → the"
        " generated tests and the pipeline upsert are skipped, with the reason)",
        default_text="`$AGENTIC_MLOPS_HOME/tools/validators`",
    )
    checkov: Path | None = env_field(
        "AGENTIC_MLOPS_CHECKOV",
        description="the checkov binary (installed by `scripts/bootstrap`; missing → reported"
        " as skipped)",
        default_text="`$AGENTIC_MLOPS_HOME/tools/checkov/bin/checkov`",
    )
    terraform: Path | None = env_field(
        "AGENTIC_MLOPS_TERRAFORM",
        description="the terraform binary",
        default_text="`terraform` on PATH (missing → skipped)",
    )
    tf_plugin_dir: Path | None = env_field(
        "AGENTIC_MLOPS_TF_PLUGIN_DIR",
        description="a local Terraform provider mirror; with it `terraform validate` runs offline",
        default_text="`$AGENTIC_MLOPS_HOME/tools/terraform/plugins` when present (else"
        " validate is skipped)",
    )


class ValidatorSettings(SettingsGroup):
    """Where generated repositories are validated: here, or by the validator function."""

    mode: Literal["local", "lambda"] = env_field(
        "AGENTIC_MLOPS_VALIDATOR",
        "local",
        description="`local` runs the validators in this machine's sandbox; `lambda` hands the"
        " sources to the isolated validator function",
        aws=True,
    )
    function: str | None = env_field(
        "AGENTIC_MLOPS_VALIDATOR_FUNCTION",
        description="AWS: the validator function's name or ARN",
        aws=True,
    )
