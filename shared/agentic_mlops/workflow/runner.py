"""The workflow runner: drives a decision set's LangGraph graph from its Postgres checkpoint.

One runner serves every engine. The in-process engine calls :meth:`WorkflowRunner.run`
and :meth:`WorkflowRunner.resume` (the whole run until it pauses or ends); the Step
Functions functions call :meth:`~WorkflowRunner.step` (exactly one node),
:meth:`~WorkflowRunner.open_gate` (a gate up to its pause, keeping the task token) and
:meth:`~WorkflowRunner.fail` (the state machine's Catch).

Where a run stops is *settled* in the store: a pending wait (``awaiting_input`` /
``awaiting_approval``) or the final status, with ``run-complete`` emitted once per
outcome. The decision set's initial state is written by the service with the decision
set; the runner checkpoints it before the first node runs, so creating a decision set
needs no LangGraph.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentic_mlops.domain import MLOpsProjectState
from agentic_mlops.domain.state import WAIT_STATUS
from agentic_mlops.errors import Conflict, InvalidInput, NodeFailed, PlatformError
from agentic_mlops.observability import log_context
from agentic_mlops.persistence.models import DecisionSet, NewEvent, Wait
from agentic_mlops.streaming import EventType
from agentic_mlops.workflow.registry import NODE_ORDER, NodeSpec, spec
from agentic_mlops.workflow.routes import route_after

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from agentic_mlops.persistence.interfaces import PlatformStore
    from agentic_mlops.workflow.instrument import RunContext

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]
WaitListener = Callable[[Wait], None]
_DECISION_OUTCOME = {"approve": "approved", "reject": "rejected"}


def _decision_outcome(node: str, state: MLOpsProjectState | None) -> str | None:
    """The approval's outcome for the state machine: approved, rejected, or replan when the
    approver's comment changed the constraints (the plan is re-made before delivery)."""
    if state is None or state.approval is None:
        return None
    if node == "process_approval_feedback" and route_after(node, state) == "replan":
        return "replan"
    return _DECISION_OUTCOME[state.approval.decision]


_ENGINE_ERRORS = {
    "States.Timeout": ("timeout", "nobody answered in time: the wait expired"),
    "States.TaskFailed": ("workflow_failed", "a workflow step failed"),
}


@dataclass(frozen=True)
class RunOutcome:
    """Where a decision set stands after the runner worked on it."""

    decision_set: DecisionSet
    state: MLOpsProjectState | None
    pending: Wait | None

    @property
    def status(self) -> str:
        """The decision set's status."""
        return self.decision_set.status


def failure_details(exc: BaseException, node: str | None = None) -> dict[str, str]:
    """A stable error code and a message fit for a user; the full error goes to the log.

    Platform errors carry their own code and message; database errors never show the
    database's text; anything else shows only its kind.
    """
    import psycopg

    if isinstance(exc, PlatformError):
        return {"error": exc.code, "message": " ".join(str(exc).split())[:500]}
    where = f" in {node}" if node else ""
    if isinstance(exc, psycopg.Error):
        return {
            "error": "database_error",
            "message": f"the database refused the run's data{where}; the error has been logged",
        }
    return {
        "error": "internal_error",
        "message": f"{type(exc).__name__}{where}: the run failed; the error has been logged",
    }


class WorkflowRunner:
    """Runs decision sets' workflows on LangGraph with a PostgreSQL checkpointer.

    Args:
        store: the platform store.
        checkpointer: LangGraph's saver (``thread_id`` = decision set id).
        context: what the nodes use (provider, code generator, artifacts, histories...).
        engine: the engine name recorded on jobs.
        on_event: called with every newly stored event while the runner works.
    """

    def __init__(
        self,
        store: PlatformStore,
        checkpointer: BaseCheckpointSaver,
        context: RunContext,
        *,
        engine: str = "local",
        on_event: EventSink | None = None,
    ) -> None:
        from agentic_mlops.workflow.graph import build_graph

        self.store = store
        self.context = context
        self.engine = engine
        self.on_event = on_event
        self.wait_listeners: list[WaitListener] = []
        self._checkpointer = checkpointer
        self._graph = build_graph(checkpointer)

    # whole runs (the in-process engine) -------------------------------------------------

    def run(self, decision_set_id: str, action: str, resume_value: Any = None) -> RunOutcome:
        """Run until the workflow pauses or ends (continuing a paused gate with
        ``resume_value`` when given).

        Raises:
            NodeFailed: a node raised; the run is recorded as failed (code and message on
                ``run-complete``).
        """
        with log_context(thread_id=decision_set_id):
            return self._run(decision_set_id, action, resume_value)

    def _run(self, decision_set_id: str, action: str, resume_value: Any) -> RunOutcome:
        from langgraph.types import Command

        self._ensure_checkpoint(decision_set_id)
        job_id = self.store.start_job(decision_set_id, self.engine, action)
        self.store.set_status(decision_set_id, "running")
        sink = _GuardedSink(self.on_event)
        graph_input = None if resume_value is None else Command(resume=resume_value)
        try:
            self._stream(decision_set_id, graph_input, sink)
        except Exception as exc:
            node = getattr(exc, "node_name", None)
            details = failure_details(exc, node)
            logger.error(
                "workflow failed for %s in %s: %s: %s",
                decision_set_id,
                node or "the workflow",
                type(exc).__name__,
                exc,
                exc_info=not isinstance(exc, PlatformError),
            )
            self.store.finish_job(job_id, "failed", f"{type(exc).__name__}: {exc}"[:2000])
            self._record_failure(decision_set_id, details, sink, key=job_id)
            raise NodeFailed(
                f"decision set {decision_set_id} failed ({details['error']}): {details['message']}",
                decision_set_id=decision_set_id,
                cause_code=details["error"],
            ) from exc
        self.store.finish_job(job_id, "succeeded")
        if sink.abandoned:
            self.store.mark_stream_abandoned(decision_set_id, job_id)
        outcome = self._settle(decision_set_id, sink)
        if outcome.pending is not None:
            self._wait_opened(outcome.pending)
        return outcome

    def resume(self, decision_set_id: str, action: str = "resume") -> RunOutcome:
        """Continue from the last checkpoint: after a crash, after a wait was decided (by
        any process), or the first run of a prepared decision set."""
        self.store.get_decision_set(decision_set_id)
        snapshot = self._graph.get_state(self._config(decision_set_id))
        if snapshot.interrupts:
            wait = self._wait_of(decision_set_id, snapshot.interrupts[0])
            if wait.status == "decided":
                return self.run(decision_set_id, f"resume-{wait.kind}", wait.response)
            return self._settle(decision_set_id)
        if snapshot.tasks or not snapshot.values:
            # ``tasks`` (not ``next``) also holds a task that finished before the crash
            # and whose writes wait to be applied.
            return self.run(decision_set_id, action)
        return self._settle(decision_set_id)

    # one node at a time (the Step Functions functions) --------------------------------------

    def step(self, decision_set_id: str, node: str) -> dict[str, Any]:
        """Run exactly ``node`` from the decision set's checkpoint; return a small result.

        A gate decided since the last node is first completed with its recorded answer.
        Asking again for the node that produced the current checkpoint (a replay after a
        lost response) returns the same result without running anything; asking for any
        other node than the next one is refused. Errors propagate (the state machine's
        Retry and Catch handle them).

        Raises:
            InvalidInput: unknown node.
            NotFound: unknown decision set.
            Conflict: ``node`` is not the checkpoint's next node.
        """
        known_node(node)
        self.store.get_decision_set(decision_set_id)
        self._ensure_checkpoint(decision_set_id)
        self._finish_decided_gate(decision_set_id)
        config = self._config(decision_set_id)
        snapshot = self._graph.get_state(config)
        pending = [task.name for task in snapshot.tasks]
        if node not in pending:
            if node in self._produced_checkpoint(snapshot):
                return {**self._step_result(self._settle(decision_set_id), node), "replay": True}
            raise Conflict(
                f"node {node} is not next for decision set {decision_set_id}"
                f" (next: {', '.join(pending) or 'nothing, the run has ended'})"
            )
        self.store.set_status(decision_set_id, "running")
        sink = _GuardedSink(self.on_event)
        self._stream(decision_set_id, None, sink, interrupt_after=[node])
        return {**self._step_result(self._settle(decision_set_id, sink), node), "replay": False}

    def open_gate(self, decision_set_id: str, node: str, task_token: str | None) -> Wait:
        """Run a gate node up to its pause and keep the engine's resume token with the wait.

        The token stays in the database: it is never returned to callers or sent out.
        """
        snapshot = self._graph.get_state(self._config(decision_set_id))
        if not snapshot.interrupts:
            self.step(decision_set_id, node)
            snapshot = self._graph.get_state(self._config(decision_set_id))
        if not snapshot.interrupts:
            raise Conflict(f"node {node} of decision set {decision_set_id} did not pause")
        wait = self._wait_of(decision_set_id, snapshot.interrupts[0])
        if wait.kind != known_node(node).waits_for:
            raise Conflict(f"node {node} of decision set {decision_set_id} did not pause")
        if task_token is not None:
            self.store.attach_task_token(wait.id, task_token)
            # Read again after attaching: a decision recorded meanwhile is then seen here,
            # or the decider sees the token (one of the two resumes the execution).
            wait = self.store.get_wait(wait.id)
        if wait.status == "pending":
            self._wait_opened(wait)
        return wait

    def fail(self, decision_set_id: str, error: dict[str, Any], *, key: str) -> RunOutcome:
        """Record a failure reported by the engine (the state machine's Catch), once per key.

        The whole error (with its cause) is quarantined in the artifact store for triage
        and logged; ``run-complete`` carries its name and a message fit for a user.
        """
        self.store.get_decision_set(decision_set_id)
        payload = json.dumps({"decision_set_id": decision_set_id, "error": error}, sort_keys=True)
        name = str(error.get("Error") or "failure")
        details: dict[str, Any] = engine_failure(name, error.get("Cause"))
        artifacts = self.context.artifacts
        if artifacts is not None:
            stored = artifacts.quarantine(payload.encode("utf-8"), reason=name, kind="failures")
            details["quarantine"] = stored.key
        logger.error("workflow of %s failed: %s: %s", decision_set_id, name, error.get("Cause"))
        self._record_failure(decision_set_id, details, _GuardedSink(self.on_event), key=key)
        return self.outcome(decision_set_id)

    # reads ---------------------------------------------------------------------------------

    def outcome(self, decision_set_id: str) -> RunOutcome:
        """Where the decision set stands, from its checkpoint (without running anything)."""
        decision_set = self.store.get_decision_set(decision_set_id)
        values = self._graph.get_state(self._config(decision_set_id)).values
        state = MLOpsProjectState.model_validate(values) if values else None
        pending = self.store.latest_wait(decision_set_id)
        if pending is not None and pending.status != "pending":
            pending = None
        return RunOutcome(decision_set, state, pending)

    def state_at(self, decision_set_id: str, checkpoint_id: str) -> MLOpsProjectState | None:
        """The decision set's state at one of its checkpoints (None if it has no values).

        Raises:
            NotFound: no such checkpoint in this decision set's thread.
        """
        from agentic_mlops.errors import NotFound

        config = {"configurable": {"thread_id": decision_set_id, "checkpoint_id": checkpoint_id}}
        found = self._checkpointer.get_tuple(config)
        if found is None:
            raise NotFound(f"decision set {decision_set_id} has no checkpoint {checkpoint_id}")
        values = self._graph.get_state(found.config).values
        return MLOpsProjectState.model_validate(values) if values else None

    # internals -----------------------------------------------------------------------------

    @staticmethod
    def _config(decision_set_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": decision_set_id}}

    def _stream(
        self,
        decision_set_id: str,
        graph_input: Any,
        sink: _GuardedSink,
        *,
        interrupt_after: list[str] | None = None,
    ) -> None:
        """Stream the graph, forwarding the nodes' events to the sink."""
        for mode, chunk in self._graph.stream(
            graph_input,
            self._config(decision_set_id),
            context=self.context,
            stream_mode=["custom", "updates"],
            durability="sync",
            interrupt_after=interrupt_after,
        ):
            if mode == "custom":
                sink(chunk)

    def _ensure_checkpoint(self, decision_set_id: str) -> None:
        """Checkpoint the stored initial state before the first node (once)."""
        config = self._config(decision_set_id)
        if self._checkpointer.get_tuple(config) is not None:
            return
        initial = MLOpsProjectState.model_validate(self.store.decision_set_state(decision_set_id))
        for _ in self._graph.stream(
            initial.model_dump(mode="json"),
            config,
            context=self.context,
            stream_mode="updates",
            durability="sync",
            interrupt_before=[NODE_ORDER[0]],
        ):
            pass

    def _wait_of(self, decision_set_id: str, interrupt: Any) -> Wait:
        """The wait row of a pending interrupt (gates open it before pausing)."""
        value = interrupt.value
        key = value.get("wait_key") or interrupt.id
        found = self.store.find_wait(decision_set_id, key)
        if found is not None:
            return found
        # A checkpoint written before gates opened their own waits.
        return self.store.open_wait(decision_set_id, value["kind"], key, value)

    def _produced_checkpoint(self, snapshot: Any) -> set[str]:
        """The nodes whose writes produced the current checkpoint."""
        if snapshot.parent_config is None:
            return set()
        return {task.name for task in self._graph.get_state(snapshot.parent_config).tasks}

    def _finish_decided_gate(self, decision_set_id: str) -> None:
        """Complete a paused gate whose wait was decided (the answer is in the database)."""
        from langgraph.types import Command

        snapshot = self._graph.get_state(self._config(decision_set_id))
        if not snapshot.interrupts:
            return
        wait = self._wait_of(decision_set_id, snapshot.interrupts[0])
        if wait.status != "decided":
            raise Conflict(f"decision set {decision_set_id} is still waiting for its {wait.kind}")
        sink = _GuardedSink(self.on_event)
        self._stream(
            decision_set_id,
            Command(resume=wait.response),
            sink,
            interrupt_after=list(snapshot.next),
        )

    @staticmethod
    def _step_result(outcome: RunOutcome, node: str) -> dict[str, Any]:
        """What a node task returns to the state machine: ids and a few flags, no state."""
        state = outcome.state
        return {
            "decision_set_id": outcome.decision_set.id,
            "node": node,
            "status": outcome.status,
            "coverage_complete": bool(state and state.coverage and state.coverage.complete),
            "decision": _decision_outcome(node, state),
            "route": route_after(node, state) if state else None,
        }

    def _wait_opened(self, wait: Wait) -> None:
        """Tell the listeners (Slack notifier) that a wait is open; their failures are logged."""
        for listener in self.wait_listeners:
            try:
                listener(wait)
            except Exception:
                logger.warning("wait listener %r failed for %s", listener, wait.id, exc_info=True)

    def _settle(self, decision_set_id: str, sink: EventSink | None = None) -> RunOutcome:
        """Record where the run stopped: a pending wait, or its final status."""
        self._link_checkpoints(decision_set_id)
        snapshot = self._graph.get_state(self._config(decision_set_id))
        state = MLOpsProjectState.model_validate(snapshot.values) if snapshot.values else None
        pending: Wait | None = None
        if snapshot.interrupts:
            pending = self._wait_of(decision_set_id, snapshot.interrupts[0])
            status = WAIT_STATUS[pending.kind]
            if pending.status != "pending":
                # Decided meanwhile (another process); whoever resumes it runs on.
                pending = None
        elif snapshot.tasks or state is None:
            status = "running"
        else:
            # The status first: a client reacting to run-complete reads the final status.
            decision_set = self.store.set_status(decision_set_id, state.status)
            self._complete(decision_set_id, state.status, _final_summary(state), sink)
            return RunOutcome(decision_set, state, pending)
        decision_set = self.store.set_status(decision_set_id, status)
        return RunOutcome(decision_set, state, pending)

    def _record_failure(
        self, decision_set_id: str, details: dict[str, Any], sink: EventSink | None, *, key: str
    ) -> None:
        self._link_checkpoints(decision_set_id)
        self.store.expire_waits(decision_set_id)
        self.store.set_status(decision_set_id, "failed")
        self._complete(decision_set_id, "failed", details, sink, key=key)

    def _complete(
        self,
        decision_set_id: str,
        outcome: str,
        details: dict[str, Any],
        sink: EventSink | None,
        key: str = "",
    ) -> None:
        """Emit ``run-complete`` once per outcome (per failed job), whatever the outcome."""
        event = NewEvent(
            type=EventType.RUN_COMPLETE.value,
            payload={"outcome": outcome, **details},
            dedupe_key=f"run-complete:{outcome}:{key}",
        )
        for stored in self.store.append_events(decision_set_id, [event]):
            if sink is not None:
                sink(stored.message())

    def _link_checkpoints(self, decision_set_id: str) -> None:
        """Record on each event the id of the checkpoint written after its step."""
        config = self._config(decision_set_id)
        for step in self.store.steps_without_checkpoint(decision_set_id):
            found = next(
                iter(self._checkpointer.list(config, filter={"step": step}, limit=1)), None
            )
            if found is not None:
                checkpoint_id = found.config["configurable"]["checkpoint_id"]
                self.store.link_checkpoint(decision_set_id, step, checkpoint_id)


def engine_failure(name: str, cause: Any) -> dict[str, Any]:
    """The same code and message as :func:`failure_details` gives in process, for an error
    the state machine caught (its name is the exception's class or a ``States.*`` error)."""
    if name in _ENGINE_ERRORS:
        code, message = _ENGINE_ERRORS[name]
        return {"error": code, "message": message}
    kind = _platform_errors().get(name)
    message = None
    if kind is not None and isinstance(cause, str):
        try:
            message = json.loads(cause).get("errorMessage")
        except (ValueError, AttributeError):
            message = None
    return {
        "error": kind.code if kind is not None else "workflow_failed",
        "message": " ".join(str(message).split())[:500]
        if message
        else "the workflow failed; the error has been logged",
    }


def _platform_errors() -> dict[str, type[PlatformError]]:
    found: dict[str, type[PlatformError]] = {}
    pending: list[type[PlatformError]] = [PlatformError]
    while pending:
        kind = pending.pop()
        found[kind.__name__] = kind
        pending.extend(kind.__subclasses__())
    return found


def known_node(node: str) -> NodeSpec:
    """The spec of a node named in a request.

    Raises:
        InvalidInput: no such node.
    """
    try:
        return spec(node)
    except KeyError as exc:
        raise InvalidInput(str(exc.args[0])) from exc


def _final_summary(state: MLOpsProjectState) -> dict[str, Any]:
    validation = state.validation
    return {
        "plan": state.plan.name if state.plan else None,
        "monthly_total_usd": state.cost.monthly_total_usd if state.cost else None,
        "policy": state.policy.overall if state.policy else None,
        "approver": state.approval.approver if state.approval else None,
        "bundle": state.bundle.model_dump() if state.bundle else None,
        "validation": validation.passed if validation else None,
        "commit": state.commit.sha if state.commit else None,
    }


class _GuardedSink:
    """Forwards events to the consumer; a consumer that fails is dropped, not fatal."""

    def __init__(self, consumer: EventSink | None) -> None:
        self._consumer = consumer
        self.abandoned = False

    def __call__(self, message: dict[str, Any]) -> None:
        if self._consumer is None or self.abandoned:
            return
        try:
            self._consumer(message)
        except Exception:
            logger.warning("event consumer failed; the stream is abandoned", exc_info=True)
            self.abandoned = True
