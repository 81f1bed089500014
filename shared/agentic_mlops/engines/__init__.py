"""Engines run decision sets: in-process (the embedded default) or on AWS Step Functions."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.engines.base import Engine
    from agentic_mlops.persistence import Database
    from agentic_mlops.providers import OrchestrationProvider

ENGINE_ENV = "AGENTIC_MLOPS_ENGINE"
STATE_MACHINE_ENV = "AGENTIC_MLOPS_STATE_MACHINE_ARN"


def create_engine(
    database: Database,
    provider: OrchestrationProvider,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    env: Mapping[str, str] | None = None,
    client: Any = None,
) -> Engine:
    """Return the engine chosen by configuration.

    ``AGENTIC_MLOPS_ENGINE`` is ``local`` (default: the workflow runs in this process) or
    ``stepfunctions`` (executions of ``AGENTIC_MLOPS_STATE_MACHINE_ARN``).

    Raises:
        InvalidInput: an unknown engine, or Step Functions without a state machine ARN.
    """
    from agentic_mlops.engines.local import LocalEngine

    env = os.environ if env is None else env
    name = env.get(ENGINE_ENV, "local") or "local"
    local = LocalEngine(database, provider, on_event=on_event)
    if name == "local":
        return local
    if name == "stepfunctions":
        arn = env.get(STATE_MACHINE_ENV)
        if not arn:
            raise InvalidInput(f"{ENGINE_ENV}=stepfunctions needs {STATE_MACHINE_ENV}")
        from agentic_mlops.engines.stepfunctions import StepFunctionsEngine

        return StepFunctionsEngine(local, arn, client=client)
    raise InvalidInput(f"unknown engine {name!r} in {ENGINE_ENV}; use local or stepfunctions")
