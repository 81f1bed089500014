"""What the workflow's Lambda functions do, behind their thin handlers.

Every function works on the Postgres checkpoint through one cached engine per container
(warm invocations reuse the database pool). Configuration comes from the environment,
read when the first invocation needs it, never at import time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.engines.local import LocalEngine


class NodeTask(BaseModel):
    """The node runner's event (from the state machine's Task state)."""

    decision_set_id: str = Field(min_length=1)
    node: str = Field(min_length=1)
    execution_id: str | None = None


class WaitTask(NodeTask):
    """The wait registrar's event (a ``.waitForTaskToken`` Task state)."""

    kind: str
    task_token: str = Field(min_length=1, max_length=2048)


class FailureTask(BaseModel):
    """The failure handler's event (the state machine's Catch)."""

    decision_set_id: str = Field(min_length=1)
    execution_id: str | None = None
    error: dict[str, Any] = Field(default_factory=dict)


_container: dict[str, Any] = {}


def engine() -> LocalEngine:
    """The container's engine (created on first use, reused while the container is warm):
    database from ``DATABASE_URL``, provider from ``AGENTIC_MLOPS_PROVIDER`` (Anthropic with
    its key from ``AGENTIC_MLOPS_ANTHROPIC_SECRET``, see docs/providers.md), stores from
    the environment."""
    if "engine" not in _container:
        from agentic_mlops.engines.local import LocalEngine
        from agentic_mlops.persistence import open_database
        from agentic_mlops.providers import provider_from_env

        url = os.environ.get("DATABASE_URL")
        if not url:
            raise InvalidInput("DATABASE_URL is not set for this function")
        database = open_database(url, max_size=2)
        provider = provider_from_env()
        _container["database"] = database
        local = LocalEngine(database, provider)
        # Events stored by the workflow functions reach WebSocket subscribers through
        # the @connections API; an opened approval is posted to Slack when configured.
        from agentic_mlops.api.runtime import wire

        _container["streams"] = wire(local, database)
        _container["engine"] = local
    return _container["engine"]


def reset() -> None:
    """Forget the container's engine and close its database pool."""
    database = _container.pop("database", None)
    _container.pop("engine", None)
    streams = _container.pop("streams", None)
    if streams is not None:
        streams.close()
    if database is not None:
        database.close()


def _parse(model: type[BaseModel], event: dict[str, Any]) -> Any:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidInput(f"malformed {model.__name__} event: {exc.errors()[0]['msg']}") from exc


def run_node(event: dict[str, Any]) -> dict[str, Any]:
    """Run exactly the event's node from the checkpoint; return a small result."""
    task: NodeTask = _parse(NodeTask, event)
    return engine().step(task.decision_set_id, task.node)


def register_wait(event: dict[str, Any]) -> dict[str, Any]:
    """Pause the event's gate node and keep the task token server side."""
    task: WaitTask = _parse(WaitTask, event)
    wait = engine().open_gate(task.decision_set_id, task.node, task.task_token)
    return {"decision_set_id": task.decision_set_id, "wait_id": wait.id, "kind": wait.kind}


def handle_failure(event: dict[str, Any]) -> dict[str, Any]:
    """Record the failure the state machine caught; always emits ``run-complete``."""
    task: FailureTask = _parse(FailureTask, event)
    outcome = engine().fail(
        task.decision_set_id, task.error, key=task.execution_id or "unknown-execution"
    )
    return {"decision_set_id": task.decision_set_id, "status": outcome.status}
