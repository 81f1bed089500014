"""The embedded engine: the LangGraph runtime in-process, checkpointing to PostgreSQL.

Human pauses are LangGraph ``interrupt()`` calls resumed with ``Command(resume=...)``.
Each pause is recorded as a *wait* row; deciding a wait is a conditional update, so two
processes answering the same gate cannot both win, and a process that dies after deciding
but before resuming is completed by :meth:`LocalEngine.resume`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentic_mlops.domain import ANSWERABLE_FIELDS, ApprovalDecision, MLOpsProjectState
from agentic_mlops.domain.state import MAX_REQUEST_CHARS
from agentic_mlops.engines.base import FINAL_STATUSES, Engine, RunOutcome
from agentic_mlops.errors import AlreadyDecided, Conflict, InvalidInput, NodeFailed
from agentic_mlops.persistence.models import DecisionSet, NewEvent, Wait
from agentic_mlops.providers import InvalidAnswer, OrchestrationProvider
from agentic_mlops.streaming import EventType
from agentic_mlops.workflow.registry import NODE_ORDER, NodeSpec, spec

if TYPE_CHECKING:
    from agentic_mlops.artifacts.store import ArtifactStore
    from agentic_mlops.changes import ChangeSummary
    from agentic_mlops.codegen.base import CodeGenProvider
    from agentic_mlops.persistence import Database, PostgresStore
    from agentic_mlops.vcs.repository import ProjectRepository

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]
_WAIT_STATUS = {"question": "awaiting_input", "approval": "awaiting_approval"}
_DECISION_OUTCOME = {"approve": "approved", "reject": "rejected"}


class LocalEngine(Engine):
    """Runs decision sets in this process.

    Args:
        database: the open database (store and checkpointer).
        provider: the orchestration provider the nodes use.
        on_event: called with every newly stored event while the workflow runs.
        codegen: the code generator (default: the offline templates).
        artifacts: where sources and bundles are stored (default: from the environment,
            see :func:`agentic_mlops.artifacts.open_artifact_store`).
        repositories: project id -> its history repository (default: under
            ``$AGENTIC_MLOPS_HOME/repos``).
    """

    name = "local"

    def __init__(
        self,
        database: Database,
        provider: OrchestrationProvider,
        on_event: EventSink | None = None,
        *,
        codegen: CodeGenProvider | None = None,
        artifacts: ArtifactStore | None = None,
        repositories: Callable[[str], ProjectRepository] | None = None,
    ) -> None:
        from agentic_mlops.workflow.graph import build_graph
        from agentic_mlops.workflow.runtime import RunContext

        self._store = database.store
        self._checkpointer = database.checkpointer
        self._provider = provider
        self._on_event = on_event
        self._graph = build_graph(database.checkpointer)
        self.wait_listeners: list[Callable[[Wait], None]] = []
        self.artifacts = artifacts or _default_artifacts()
        self.repositories = repositories or _default_repositories
        self._context = RunContext(
            store=database.store,
            provider=provider,
            codegen=codegen or _default_codegen(),
            artifacts=self.artifacts,
            repositories=self.repositories,
        )

    # commands -------------------------------------------------------------------------

    def start(
        self, project: str, request: str, answers: dict[str, str] | None = None
    ) -> RunOutcome:
        """Create a decision set for the request and run until it pauses or ends.

        Raises:
            InvalidInput: for an empty or oversized request or an unreadable answer
                (nothing is created then).
        """
        decision_set = self.prepare(project, request, answers)
        return self._drive(decision_set.id, None, "start")

    def prepare(
        self, project: str, request: str, answers: dict[str, str] | None = None
    ) -> DecisionSet:
        """Validate the input, create the decision set and checkpoint its initial state.

        No node runs: the in-process engine continues at once, the Step Functions engine
        starts an execution that runs the nodes one by one.

        Raises:
            InvalidInput: for an empty or oversized request or an unreadable answer.
        """
        request = request.strip()
        if not request:
            raise InvalidInput("the request is empty; describe the ML workload in plain words")
        if len(request) > MAX_REQUEST_CHARS:
            raise InvalidInput(f"the request is longer than {MAX_REQUEST_CHARS} characters")
        answers = self.validate_answers(answers or {})
        project_row = self._store.get_or_create_project(project)
        decision_set = self._store.create_decision_set(project_row.id, request)
        initial = MLOpsProjectState(
            decision_set_id=decision_set.id,
            project_id=project_row.id,
            request=request,
            answers=answers,
        )
        self._checkpoint_input(decision_set.id, initial)
        return decision_set

    def revise(
        self, parent_id: str, change: str, answers: dict[str, str] | None = None
    ) -> RunOutcome:
        """Create a revision of a decided decision set carrying ``change`` and run it.

        The revision starts from the parent's final constraints, applies the change, and
        goes through planning, approval and delivery again.

        Raises:
            NotFound: unknown parent.
            Conflict: the parent is not decided yet.
            InvalidInput: an empty change, or one that changes no constraint.
        """
        child = self.prepare_revision(parent_id, change, answers)
        return self._drive(child.id, None, "revise")

    def prepare_revision(
        self, parent_id: str, change: str, answers: dict[str, str] | None = None
    ) -> DecisionSet:
        """Validate a revision, create its decision set and checkpoint its initial state.

        Raises:
            NotFound: unknown parent.
            Conflict: the parent is not decided yet.
            InvalidInput: an empty change, or one that changes no constraint.
        """
        change = change.strip()
        if not change:
            raise InvalidInput(
                "the change is empty; say what should change, e.g. 'move to eu-west-1'"
            )
        parent = self._store.get_decision_set(parent_id)
        if parent.status not in {"approved", "rejected"}:
            raise Conflict(
                f"decision set {parent_id} is {parent.status}; only an approved or rejected"
                " decision set can be revised"
            )
        answers = self.validate_answers(answers or {})
        values = self._graph.get_state(self._config(parent_id)).values
        parent_state = MLOpsProjectState.model_validate(values)
        if parent_state.constraints is None:
            raise Conflict(f"decision set {parent_id} has no constraints to revise")
        _, feedback = self._provider.interpret_feedback(change, parent_state.constraints).value
        if not feedback.changes:
            raise InvalidInput(
                f"the change {change!r} changes no constraint; try for example 'move to"
                " eu-west-1' or 'budget is now $800/month'"
            )
        child = self._store.create_decision_set(parent.project_id, parent.request, parent.id)
        initial = MLOpsProjectState(
            decision_set_id=child.id,
            project_id=parent.project_id,
            request=parent.request,
            answers=answers,
            revision_of=parent.id,
            change_request=change,
            base_constraints=parent_state.constraints,
        )
        self._checkpoint_input(child.id, initial)
        return child

    def answer(self, decision_set_id: str, answers: dict[str, str], by: str) -> RunOutcome:
        """Answer the open intake questions and continue.

        Raises:
            NotFound: unknown decision set.
            Conflict: the decision set is not waiting for answers.
            InvalidInput: an unknown field or an unreadable value (nothing changes).
        """
        wait = self.pending_wait(decision_set_id, "question")
        answers = self.validate_answers(answers)
        if not answers:
            raise InvalidInput("no answers given; use --answer FIELD=VALUE")
        wait = self._store.decide_wait(wait.id, {"answers": answers, "by": by}, by)
        return self._resume_wait(decision_set_id, wait)

    def decide(self, decision_set_id: str, decision: ApprovalDecision) -> RunOutcome:
        """Approve or reject the plan waiting at the approval gate and continue.

        Approving a plan whose policy check failed requires a comment (the justification).

        Raises:
            NotFound: unknown decision set.
            AlreadyDecided: the gate was decided before.
            Conflict: the decision set is not waiting for approval.
            InvalidInput: approval of a policy-failed plan without a comment.
        """
        wait = self.pending_wait(decision_set_id, "approval")
        self.check_decision(wait, decision)
        wait = self._store.decide_wait(wait.id, decision.model_dump(mode="json"), decision.approver)
        return self._resume_wait(decision_set_id, wait)

    @staticmethod
    def check_decision(wait: Wait, decision: ApprovalDecision) -> None:
        """Refuse to approve a policy-failed plan without a justification.

        Raises:
            InvalidInput: approval of a policy-failed plan without a comment.
        """
        if (
            decision.decision == "approve"
            and wait.request.get("policy") == "fail"
            and not (decision.comment or "").strip()
        ):
            failed = ", ".join(wait.request.get("failed_rules", []))
            raise InvalidInput(
                f"the plan failed policy ({failed}); approving it needs a comment"
                " giving the justification"
            )

    @property
    def store(self) -> PostgresStore:
        """The platform store."""
        return self._store

    def resume(self, decision_set_id: str, *, action: str = "resume") -> RunOutcome:
        """Continue from the last checkpoint after a crash, or finish a decided wait.

        Also how a prepared decision set, or one whose wait was decided by another
        process, is run on (``action`` names the job).
        """
        self._store.get_decision_set(decision_set_id)
        snapshot = self._graph.get_state(self._config(decision_set_id))
        if snapshot.interrupts:
            wait = self._store.open_wait(
                decision_set_id,
                snapshot.interrupts[0].value["kind"],
                snapshot.interrupts[0].id,
                snapshot.interrupts[0].value,
            )
            if wait.status == "decided":
                return self._resume_wait(decision_set_id, wait)
            return self._settle(decision_set_id)
        if snapshot.tasks or not snapshot.values:
            # ``tasks`` (not ``next``) also holds a task that finished before the crash
            # and whose writes wait to be applied.
            return self._drive(decision_set_id, None, action)
        return self._settle(decision_set_id)

    def status(self, decision_set_id: str) -> RunOutcome:
        """Return where the decision set stands, without running anything."""
        decision_set = self._store.get_decision_set(decision_set_id)
        values = self._graph.get_state(self._config(decision_set_id)).values
        state = MLOpsProjectState.model_validate(values) if values else None
        pending = self._store.latest_wait(decision_set_id)
        if pending is not None and pending.status != "pending":
            pending = None
        return RunOutcome(decision_set, state, pending)

    def change_summary(self, decision_set_id: str) -> ChangeSummary:
        """Return the Change Summary of a decision set against its parent.

        Raises:
            NotFound: unknown decision set.
        """
        from agentic_mlops.changes import (
            ChangeSummary,
            FileChange,
            changed_constraint_fields,
            state_changes,
        )

        outcome = self.status(decision_set_id)
        decision_set, state = outcome.decision_set, outcome.state
        if state is None:
            raise Conflict(f"decision set {decision_set_id} has not run yet")
        parent_state, parent_commit = None, None
        if decision_set.parent_id:
            parent = self.status(decision_set.parent_id)
            parent_state, parent_commit = parent.state, parent.decision_set.commit_sha
        fields = state_changes(parent_state, state)
        summary = ChangeSummary(
            decision_set_id=decision_set.id,
            parent_id=decision_set.parent_id,
            change_request=state.change_request,
            changed_constraints=changed_constraint_fields(fields) if parent_state else [],
            fields=fields if parent_state else [],
            from_commit=parent_commit,
            to_commit=decision_set.commit_sha,
        )
        if decision_set.commit_sha:
            with self.repositories(decision_set.project_id) as repository:
                summary.files = [
                    FileChange(status=status, path=path)
                    for status, path in repository.changed_files(
                        parent_commit, decision_set.commit_sha
                    )
                ]
                summary.git_diff = repository.diff(parent_commit, decision_set.commit_sha)
        return summary

    def validate_answers(self, answers: dict[str, str]) -> dict[str, str]:
        """Check that every answer names a known field and reads as a valid value.

        Raises:
            InvalidInput: naming the first bad field or value.
        """
        cleaned: dict[str, str] = {}
        for field, value in answers.items():
            if field not in ANSWERABLE_FIELDS:
                raise InvalidInput(
                    f"unknown field {field!r}; answerable fields: {', '.join(ANSWERABLE_FIELDS)}"
                )
            text = str(value).strip()
            try:
                self._provider.parse_answer(field, text)
            except InvalidAnswer as exc:
                raise InvalidInput(str(exc)) from exc
            cleaned[field] = text
        return cleaned

    # one node at a time (the Step Functions path) ---------------------------------------

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
        self._known_node(node)
        self._store.get_decision_set(decision_set_id)
        config = self._config(decision_set_id)
        self._finish_decided_gate(decision_set_id)
        snapshot = self._graph.get_state(config)
        pending = [task.name for task in snapshot.tasks]
        if node not in pending:
            if node in self._produced_checkpoint(snapshot):
                return {**self._step_result(self._settle(decision_set_id), node), "replay": True}
            raise Conflict(
                f"node {node} is not next for decision set {decision_set_id}"
                f" (next: {', '.join(pending) or 'nothing, the run has ended'})"
            )
        self._store.set_status(decision_set_id, "running")
        sink = _GuardedSink(self._on_event)
        for mode, chunk in self._graph.stream(
            None,
            config,
            context=self._context,
            stream_mode=["custom", "updates"],
            durability="sync",
            interrupt_after=[node],
        ):
            if mode == "custom":
                sink(chunk)
        return {**self._step_result(self._settle(decision_set_id, sink), node), "replay": False}

    def open_gate(self, decision_set_id: str, node: str, task_token: str | None) -> Wait:
        """Run a gate node up to its pause and keep the engine's resume token with the wait.

        The token stays in the database: it is never returned to callers or sent out.
        """
        wait = self._store.latest_wait(decision_set_id)
        snapshot = self._graph.get_state(self._config(decision_set_id))
        if not snapshot.interrupts:
            self.step(decision_set_id, node)
            wait = self._store.latest_wait(decision_set_id)
        if wait is None or wait.kind != self._known_node(node).waits_for:
            raise Conflict(f"node {node} of decision set {decision_set_id} did not pause")
        if task_token is not None:
            self._store.attach_task_token(wait.id, task_token)
        if wait.status == "pending":
            self._wait_opened(wait)
        return wait

    def task_token(self, wait_id: str) -> str | None:
        """Return the resume token of a wait (server side only)."""
        return self._store.task_token(wait_id)

    def fail(self, decision_set_id: str, error: dict[str, Any], *, key: str) -> RunOutcome:
        """Record a failure reported by the engine (the state machine's Catch), once per key.

        The error payload is quarantined in the artifact store for triage.
        """
        import json

        self._store.get_decision_set(decision_set_id)
        payload = json.dumps({"decision_set_id": decision_set_id, "error": error}, sort_keys=True)
        stored = self.artifacts.quarantine(
            payload.encode("utf-8"), reason=str(error.get("Error", "failure")), kind="failures"
        )
        self._link_checkpoints(decision_set_id)
        self._store.expire_waits(decision_set_id)
        self._store.set_status(decision_set_id, "failed")
        self._complete(
            decision_set_id,
            "failed",
            {"error": error.get("Error"), "cause": error.get("Cause"), "quarantine": stored.key},
            _GuardedSink(self._on_event),
            key=key,
        )
        return self.status(decision_set_id)

    def _known_node(self, node: str) -> NodeSpec:
        try:
            return spec(node)
        except KeyError as exc:
            raise InvalidInput(str(exc.args[0])) from exc

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
        interrupt = snapshot.interrupts[0]
        wait = self._store.open_wait(
            decision_set_id, interrupt.value["kind"], interrupt.id, interrupt.value
        )
        if wait.status != "decided":
            raise Conflict(f"decision set {decision_set_id} is still waiting for its {wait.kind}")
        sink = _GuardedSink(self._on_event)
        for mode, chunk in self._graph.stream(
            Command(resume=wait.response),
            self._config(decision_set_id),
            context=self._context,
            stream_mode=["custom", "updates"],
            durability="sync",
            interrupt_after=list(snapshot.next),
        ):
            if mode == "custom":
                sink(chunk)

    @staticmethod
    def _step_result(outcome: RunOutcome, node: str) -> dict[str, Any]:
        """What a node task returns to the state machine: ids and a few flags, no state."""
        state = outcome.state
        return {
            "decision_set_id": outcome.decision_set.id,
            "node": node,
            "status": outcome.status,
            "coverage_complete": bool(state and state.coverage and state.coverage.complete),
            "decision": _DECISION_OUTCOME[state.approval.decision]
            if state and state.approval
            else None,
        }

    def _checkpoint_input(self, decision_set_id: str, initial: MLOpsProjectState) -> None:
        """Write the initial state as the first checkpoint, stopping before the first node."""
        for _ in self._graph.stream(
            initial.model_dump(mode="json"),
            self._config(decision_set_id),
            context=self._context,
            stream_mode="updates",
            durability="sync",
            interrupt_before=[NODE_ORDER[0]],
        ):
            pass

    # internals ------------------------------------------------------------------------

    @staticmethod
    def _config(decision_set_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": decision_set_id}}

    def pending_wait(self, decision_set_id: str, kind: str) -> Wait:
        """Return the pending wait of ``kind``, or explain why there is none.

        Raises:
            NotFound: unknown decision set.
            AlreadyDecided: an approval asked for a decision set already decided.
            Conflict: the decision set is not waiting for that kind of input.
        """
        decision_set = self._store.get_decision_set(decision_set_id)
        wait = self._store.latest_wait(decision_set_id)
        if wait is not None and wait.status == "pending" and wait.kind == kind:
            return wait
        decided_approval = (
            kind == "approval"
            and wait is not None
            and wait.kind == kind
            and wait.status == "decided"
            and wait.response
        )
        if decided_approval:
            outcome = _DECISION_OUTCOME.get(str(wait.response.get("decision")), "decided")
            raise AlreadyDecided(
                f"decision set {decision_set_id} was already {outcome} by {wait.decided_by}"
            )
        if kind == "approval" and decision_set.status in FINAL_STATUSES - {"failed"}:
            raise AlreadyDecided(
                f"decision set {decision_set_id} was already {decision_set.status}"
            )
        expected = _WAIT_STATUS[kind].replace("_", " ")
        raise Conflict(
            f"decision set {decision_set_id} is not {expected} (status: {decision_set.status})"
        )

    def _resume_wait(self, decision_set_id: str, wait: Wait) -> RunOutcome:
        from langgraph.types import Command

        return self._drive(decision_set_id, Command(resume=wait.response), f"resume-{wait.kind}")

    def _drive(self, decision_set_id: str, graph_input: Any, action: str) -> RunOutcome:
        job_id = self._store.start_job(decision_set_id, self.name, action)
        self._store.set_status(decision_set_id, "running")
        sink = _GuardedSink(self._on_event)
        try:
            for mode, chunk in self._graph.stream(
                graph_input,
                self._config(decision_set_id),
                context=self._context,
                stream_mode=["custom", "updates"],
                durability="sync",
            ):
                if mode == "custom":
                    sink(chunk)
        except Exception as exc:
            logger.error("workflow failed for %s: %s: %s", decision_set_id, type(exc).__name__, exc)
            logger.debug("workflow failure details", exc_info=True)
            self._store.finish_job(job_id, "failed", f"{type(exc).__name__}: {exc}")
            self._link_checkpoints(decision_set_id)
            self._store.set_status(decision_set_id, "failed")
            error = f"{type(exc).__name__}: {exc}"
            self._complete(decision_set_id, "failed", {"error": error}, sink, key=job_id)
            raise NodeFailed(f"decision set {decision_set_id} failed: {error}") from exc
        self._store.finish_job(job_id, "succeeded")
        if sink.abandoned:
            self._store.mark_stream_abandoned(job_id)
        outcome = self._settle(decision_set_id, sink)
        if outcome.pending is not None and outcome.pending.status == "pending":
            self._wait_opened(outcome.pending)
        return outcome

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
            interrupt = snapshot.interrupts[0]
            kind = interrupt.value["kind"]
            pending = self._store.open_wait(decision_set_id, kind, interrupt.id, interrupt.value)
            status = _WAIT_STATUS[kind]
        elif snapshot.tasks or state is None:
            status = "running"
        else:
            # The status first: a client reacting to run-complete reads the final status.
            decision_set = self._store.set_status(decision_set_id, state.status)
            self._complete(decision_set_id, state.status, _final_summary(state), sink)
            return RunOutcome(decision_set, state, pending)
        decision_set = self._store.set_status(decision_set_id, status)
        return RunOutcome(decision_set, state, pending)

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
        for stored in self._store.append_events(decision_set_id, [event]):
            if sink is not None:
                sink(stored.message())

    def _link_checkpoints(self, decision_set_id: str) -> None:
        """Record on each event the id of the checkpoint written after its step."""
        config = self._config(decision_set_id)
        for step in self._store.steps_without_checkpoint(decision_set_id):
            found = next(
                iter(self._checkpointer.list(config, filter={"step": step}, limit=1)), None
            )
            if found is not None:
                checkpoint_id = found.config["configurable"]["checkpoint_id"]
                self._store.link_checkpoint(decision_set_id, step, checkpoint_id)


def _final_summary(state: MLOpsProjectState) -> dict[str, Any]:
    return {
        "plan": state.plan.name if state.plan else None,
        "monthly_total_usd": state.cost.monthly_total_usd if state.cost else None,
        "policy": state.policy.overall if state.policy else None,
        "approver": state.approval.approver if state.approval else None,
        "bundle": state.bundle.model_dump() if state.bundle else None,
        "validation": state.validation.passed if state.validation else None,
        "commit": state.commit.sha if state.commit else None,
    }


def _default_codegen() -> CodeGenProvider:
    from agentic_mlops.codegen import get_codegen

    return get_codegen()


def _default_artifacts() -> ArtifactStore:
    from agentic_mlops.artifacts import open_artifact_store

    return open_artifact_store()


def _default_repositories(project_id: str) -> ProjectRepository:
    from agentic_mlops.vcs import ProjectRepository, repository_path

    return ProjectRepository.open(repository_path(project_id))


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
