"""How a configuration field is declared: its environment variable, default and meaning.

Every part of the platform declares its settings as a small Pydantic model whose fields
use :func:`env_field`; :mod:`agentic_mlops.settings` composes them into the one
:class:`~agentic_mlops.settings.Settings` model, the only reader of the environment.
The extra metadata feeds the README's configuration table and the per-function
environment of the CDK app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SettingsGroup(BaseModel):
    """A group of settings: fields populated by environment variable or by name, unknown
    variables ignored, and the values frozen once read."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


DEFAULT_HOME = Path("~/.agentic-mlops")
"""The local state folder when ``AGENTIC_MLOPS_HOME`` is not set (``~`` not expanded)."""


def env_field(
    alias: str,
    default: Any = None,
    *,
    description: str,
    aws: bool = False,
    default_text: str | None = None,
    factory: Any = None,
    **constraints: Any,
) -> Any:
    """A settings field read from the environment variable ``alias``.

    Args:
        alias: the environment variable.
        default: the value when the variable is unset or blank.
        description: one line for the README's configuration table.
        aws: whether the deployed Lambda functions set it (the CDK app sets exactly these).
        default_text: how the default reads in the table, when it is derived.
        factory: a default factory (for mutable defaults), instead of ``default``.
        **constraints: Pydantic field constraints (``ge``, ``le``, ``min_length``...).
    """
    if factory is not None:
        constraints["default_factory"] = factory
    else:
        constraints["default"] = default
    return Field(
        alias=alias,
        description=description,
        json_schema_extra={"aws": aws, "default_text": default_text},
        **constraints,
    )
