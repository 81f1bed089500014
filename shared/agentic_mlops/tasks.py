"""What the workflow's Step Functions task functions do, behind their thin handlers.

Every function works on the Postgres checkpoint through the container's workflow runner
(warm invocations reuse the database pool); configuration comes from the settings, read
when the first invocation needs them, never at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.composition import Platform
    from agentic_mlops.workflow.runner import WorkflowRunner


class NodeTask(BaseModel):
    """The node runner's event (from the state machine's Task state)."""

    decision_set_id: str = Field(min_length=1, max_length=64)
    node: str = Field(min_length=1, max_length=64)
    execution_id: str | None = None


class WaitTask(NodeTask):
    """The wait registrar's event (a ``.waitForTaskToken`` Task state)."""

    kind: str
    task_token: str = Field(min_length=1, max_length=2048)


class FailureTask(BaseModel):
    """The failure handler's event (the state machine's Catch)."""

    decision_set_id: str = Field(min_length=1, max_length=64)
    execution_id: str | None = None
    error: dict[str, Any] = Field(default_factory=dict)


def _platform(function: str) -> Platform:
    from agentic_mlops.composition.container import platform

    return platform(function)


def _runner(platform: Platform) -> WorkflowRunner:
    if platform.runner is None:  # pragma: no cover - the workflow role always has one
        raise InvalidInput("this function has no workflow runner")
    return platform.runner


def _parse(model: type[BaseModel], event: dict[str, Any]) -> Any:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidInput(f"malformed {model.__name__} event: {exc.errors()[0]['msg']}") from exc


def run_node(event: dict[str, Any]) -> dict[str, Any]:
    """Run exactly the event's node from the checkpoint; return a small result."""
    task: NodeTask = _parse(NodeTask, event)
    return _runner(_platform("node_runner")).step(task.decision_set_id, task.node)


def register_wait(event: dict[str, Any]) -> dict[str, Any]:
    """Pause the event's gate node and keep the task token server side; a decision
    recorded before the token arrived is applied now (no client has to retry)."""
    task: WaitTask = _parse(WaitTask, event)
    platform = _platform("wait_registrar")
    wait = _runner(platform).open_gate(task.decision_set_id, task.node, task.task_token)
    if wait.status == "decided":
        platform.engine.continue_wait(wait)
    return {"decision_set_id": task.decision_set_id, "wait_id": wait.id, "kind": wait.kind}


def handle_failure(event: dict[str, Any]) -> dict[str, Any]:
    """Record the failure the state machine caught; always emits ``run-complete``."""
    task: FailureTask = _parse(FailureTask, event)
    outcome = _runner(_platform("failure_handler")).fail(
        task.decision_set_id, task.error, key=task.execution_id or "unknown-execution"
    )
    return {"decision_set_id": task.decision_set_id, "status": outcome.status}
