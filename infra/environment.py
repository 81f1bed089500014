"""The one place that says which environment variables each function gets.

:data:`FUNCTION_VARIABLES` is, per function, what the platform's settings model reads for
it (its ``aws`` fields of the groups the function reads); :func:`environment_for` picks their
values from what a stack knows. Powertools' own variables are added to every function.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentic_mlops import settings

FUNCTION_VARIABLES: Mapping[str, frozenset[str]] = settings.FUNCTION_VARIABLES
"""Function name -> the environment variables its settings read (nothing more is set): the
platform's settings model says which (:data:`agentic_mlops.settings.FUNCTION_VARIABLES`)."""

POWERTOOLS_VARIABLES = frozenset(
    {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"}
)
"""Read by Powertools itself, set on every function in addition."""

FIXED_VALUES: Mapping[str, str] = {
    "AGENTIC_MLOPS_ENGINE": "stepfunctions",
    "AGENTIC_MLOPS_AUTH": "claims",
    "AGENTIC_MLOPS_VALIDATOR": "lambda",
    "AGENTIC_MLOPS_ARTIFACT_PREFIX": "",
    "AGENTIC_MLOPS_REPOS_DIR": "/mnt/history/repos",
}
"""Values that are the same in every deployment."""

HISTORY_MOUNT = "/mnt/history"
"""Where the EFS access point of the per-project git history is mounted."""


class MissingValue(KeyError):
    """A stack did not provide a value a function's settings need."""


def environment_for(function: str, values: Mapping[str, str]) -> dict[str, str]:
    """The environment of ``function``: exactly its variables, plus Powertools'.

    Args:
        function: A key of :data:`FUNCTION_VARIABLES`.
        values: Variable name -> value (tokens allowed); :data:`FIXED_VALUES` fill the rest.

    Raises:
        MissingValue: naming the variables without a value.
    """
    available = {**FIXED_VALUES, **values}
    wanted = FUNCTION_VARIABLES[function]
    missing = sorted(wanted - set(available))
    if missing:
        raise MissingValue(f"{function} needs {', '.join(missing)}")
    environment = {name: available[name] for name in sorted(wanted)}
    environment.update(
        {
            "POWERTOOLS_SERVICE_NAME": f"agentic-mlops-{function.replace('_', '-')}",
            "POWERTOOLS_LOG_LEVEL": available.get("AGENTIC_MLOPS_LOG_LEVEL") or "INFO",
            "POWERTOOLS_METRICS_NAMESPACE": "AgenticMlops",
        }
    )
    return environment
