"""What every node goes through: idempotency, Reason Cards, events and streaming.

A node function is plain: ``fn(state, ctx) -> update``. :func:`instrument` turns it into a
LangGraph node that

1. computes the node-run key ``sha256(thread_id | node | canonical_json_hash(state))`` and
   returns the cached output when a succeeded run with that key exists (a replay after a
   crash never executes a completed node twice);
2. runs the node, collecting the events it emits;
3. stores the output and the events in one transaction, then streams the events that
   were newly stored through LangGraph's stream writer (custom stream mode).

A node that pauses with ``interrupt()`` has its events (a question, an approval request)
stored and streamed before the pause; when it runs again on resume, the same events are
deduplicated by key.

A node whose provider exhausted its determinism budget
(:class:`~agentic_mlops.errors.DeterminismBudgetExceeded`) has the invalid payloads, the
prompt digest and their context written to the artifact store's quarantine area, a
``payload-quarantined`` event stored and streamed, and its error propagated: the engine
ends the run as failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphInterrupt
from langgraph.runtime import Runtime

from agentic_mlops.canonical import canonical_json, canonical_json_hash, node_run_key
from agentic_mlops.domain import Explanation, MLOpsProjectState, ProviderCall, ReasonCard
from agentic_mlops.errors import DeterminismBudgetExceeded
from agentic_mlops.observability import log_context
from agentic_mlops.persistence.interfaces import NodeStore
from agentic_mlops.persistence.models import AgentRun, NewEvent, Wait
from agentic_mlops.providers import OrchestrationProvider
from agentic_mlops.streaming import EventType

if TYPE_CHECKING:
    from agentic_mlops.artifacts.store import ArtifactStore
    from agentic_mlops.codegen.base import CodeGenProvider
    from agentic_mlops.validation.remote import RepositoryValidator
    from agentic_mlops.vcs.config import DeliverySettings
    from agentic_mlops.vcs.repository import ProjectRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """Per-run dependencies, handed to nodes through LangGraph's runtime context.

    ``codegen``, ``artifacts``, ``repositories``, ``validator`` and ``delivery`` are
    needed only by the nodes after approval (code generation, validation, persistence of
    the history, the push to the team's remote); without a validator the generated
    repository is validated in this process's sandbox with the default tools, without
    ``delivery`` it is pushed nowhere.
    """

    store: NodeStore
    provider: OrchestrationProvider
    codegen: CodeGenProvider | None = None
    artifacts: ArtifactStore | None = None
    repositories: Callable[[str], ProjectRepository] | None = None
    validator: RepositoryValidator | None = None
    delivery: DeliverySettings | None = None


@dataclass
class NodeContext:
    """What a node function may use: the provider and an event emitter."""

    node: str
    provider: OrchestrationProvider
    inputs_digest: str
    started_at: datetime
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _clock: float = field(default_factory=time.perf_counter)
    run: RunContext | None = None
    decision_set_id: str = ""

    @property
    def wait_key(self) -> str:
        """The key of this node's wait: the same on every re-run with the same input."""
        return f"{self.node}:{self.inputs_digest}"

    def open_wait(self, kind: str, request: dict[str, Any]) -> Wait | None:
        """Record the wait a gate is about to pause at, before anything announces it.

        A client that sees the ``question`` or ``approval-requested`` event can answer at
        once: the wait exists. Re-running the gate (on resume) finds the same wait.
        Without a run context (unit tests of a node) nothing is recorded.
        """
        if self.run is None:
            return None
        return self.run.store.open_wait(self.decision_set_id, kind, self.wait_key, request)

    def require_run(self) -> RunContext:
        """Return the run's dependencies (the delivery nodes cannot work without them)."""
        if self.run is None:
            raise RuntimeError(f"node {self.node} needs the run context (store, artifacts...)")
        return self.run

    def emit(self, event_type: EventType, payload: dict[str, Any]) -> None:
        """Queue an event; it is stored and streamed when the node finishes or pauses."""
        self.events.append((event_type.value, payload))

    def reason_card(
        self,
        explanation: Explanation,
        *,
        provider: str | None = None,
        model: str | None = None,
        pack_hash: str | None = None,
        call: ProviderCall | None = None,
    ) -> ReasonCard:
        """Emit the node's Reason Card from an explanation and return it.

        ``call`` (a provider result's metadata) names who actually answered: the provider,
        model, pack, prompt digest, turns and any fallback reason. Explicit ``provider``,
        ``model`` and ``pack_hash`` win over it; the node's provider is the default.
        """
        card = ReasonCard(
            node=self.node,
            decision=explanation.decision,
            rationale=explanation.rationale,
            alternatives=explanation.alternatives,
            confidence=explanation.confidence,
            inputs_digest=self.inputs_digest,
            provider=provider or (call.provider if call else self.provider.name),
            model=model or (call.model if call else self.provider.model),
            few_shot_pack_hash=pack_hash
            or (call.few_shot_pack_hash if call else self.provider.pack_hash()),
            started_at=self.started_at.isoformat(),
            duration_ms=round((time.perf_counter() - self._clock) * 1000, 3),
            few_shot_pack=call.few_shot_pack if call else None,
            prompt_digest=call.prompt_digest if call else None,
            attempts=call.attempts if call else None,
            fallback_reason=call.fallback_reason if call else None,
        )
        self.emit(EventType.REASON_CARD, card.model_dump(mode="json"))
        return card


NodeFn = Callable[[MLOpsProjectState, NodeContext], dict[str, Any]]
LangGraphNode = Callable[[MLOpsProjectState, RunnableConfig, Runtime[RunContext]], dict[str, Any]]


def instrument(name: str, fn: NodeFn) -> LangGraphNode:
    """Wrap a node function with idempotency, event logging and streaming."""

    def node(
        state: MLOpsProjectState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        thread_id = config["configurable"]["thread_id"]
        try:
            with log_context(node_name=name, thread_id=thread_id):
                return _run_node(name, fn, state, config, runtime)
        except GraphInterrupt:
            raise
        except Exception as exc:
            _name_node(exc, name)
            raise

    node.__name__ = name
    node.__qualname__ = name
    return node


def _run_node(
    name: str,
    fn: NodeFn,
    state: MLOpsProjectState,
    config: RunnableConfig,
    runtime: Runtime[RunContext],
) -> dict[str, Any]:
    """Run a node once per input: the cached output if it ran, else run and record it."""
    store, provider = runtime.context.store, runtime.context.provider
    thread_id = config["configurable"]["thread_id"]
    step = config.get("metadata", {}).get("langgraph_step")
    input_state = state.model_dump(mode="json")
    key = node_run_key(thread_id, name, input_state)
    cached = store.succeeded_output(key)
    if cached is not None:
        return cached

    input_hash = canonical_json_hash(input_state)
    ctx = NodeContext(
        name,
        provider,
        input_hash,
        datetime.now(UTC),
        run=runtime.context,
        decision_set_id=thread_id,
    )

    def record(status: str, output: dict[str, Any] | None, error: str | None) -> None:
        duration_ms = round((time.perf_counter() - ctx._clock) * 1000, 3)
        run = AgentRun(
            key=key,
            decision_set_id=thread_id,
            node=name,
            input_hash=input_hash,
            status=status,
            output=output,
            error=error,
            executions=1,
            duration_ms=duration_ms,
        )
        events = _new_events(ctx, name, input_hash, step) if status == "succeeded" else []
        for stored in store.complete_run(run, events):
            runtime.stream_writer(stored.message())
        log = logger.info if status == "succeeded" else logger.warning
        log(
            "node %s %s in %.0f ms",
            name,
            status,
            duration_ms,
            extra={"node_status": status, "duration_ms": duration_ms, "events": len(events)},
        )

    def stream(events: list[NewEvent]) -> None:
        for stored in store.append_events(thread_id, events):
            runtime.stream_writer(stored.message())

    try:
        output = fn(state, ctx)
    except GraphInterrupt:
        # Pausing is not completing: store and stream what was emitted before the pause
        # (deduplicated on resume) without recording a node run.
        stream(_new_events(ctx, name, input_hash, step))
        raise
    except DeterminismBudgetExceeded as exc:
        stream([_quarantine(exc, ctx, thread_id, input_hash, step)])
        record("failed", None, f"{type(exc).__name__}: {exc}")
        raise
    except Exception as exc:
        record("failed", None, f"{type(exc).__name__}: {exc}")
        raise
    record("succeeded", output, None)
    return output


def _name_node(exc: BaseException, node: str) -> None:
    """Say which node raised (the runner reports it); some exceptions refuse attributes."""
    try:
        exc.node_name = node  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        logger.debug("cannot name the node on %s", type(exc).__name__)


def _new_events(ctx: NodeContext, node: str, input_hash: str, step: int | None) -> list[NewEvent]:
    return [
        NewEvent(
            type=event_type,
            payload=payload,
            node=node,
            step=step,
            dedupe_key=f"{node}:{input_hash}:{index}",
        )
        for index, (event_type, payload) in enumerate(ctx.events)
    ]


def _quarantine(
    exc: DeterminismBudgetExceeded,
    ctx: NodeContext,
    thread_id: str,
    input_hash: str,
    step: int | None,
) -> NewEvent:
    """Quarantine the invalid payloads with their context; return the event that says so.

    A failing artifact store does not hide the node's error: the event then carries the
    store's error instead of a key.
    """
    document = exc.quarantine_document(
        decision_set_id=thread_id, node=ctx.node, input_hash=input_hash
    )
    reason = (
        f"determinism budget exceeded: {ctx.node} ({exc.provider}/{exc.model},"
        f" {len(exc.invalid_payloads)} invalid answers, prompt {exc.prompt_digest[:12]})"
    )
    payload: dict[str, Any] = {
        "node": ctx.node,
        "error": exc.code,
        "reason": reason,
        "provider": exc.provider,
        "model": exc.model,
        "few_shot_pack": exc.few_shot_pack,
        "few_shot_pack_hash": exc.few_shot_pack_hash,
        "prompt_digest": exc.prompt_digest,
        "attempts": len(exc.invalid_payloads),
        "key": None,
    }
    artifacts = ctx.run.artifacts if ctx.run is not None else None
    try:
        if artifacts is None:
            raise RuntimeError("no artifact store in the run context")
        stored = artifacts.quarantine(
            canonical_json(document).encode("utf-8"), reason=reason, kind="determinism"
        )
        payload |= {"key": stored.key, "sha256": stored.sha256, "store": artifacts.name}
        logger.error("%s; payloads quarantined as %s", reason, stored.key)
    except Exception as store_error:
        payload["quarantine_error"] = f"{type(store_error).__name__}: {store_error}"
        logger.exception("%s; the payloads could not be quarantined", reason)
    return NewEvent(
        type=EventType.PAYLOAD_QUARANTINED.value,
        payload=payload,
        node=ctx.node,
        step=step,
        dedupe_key=f"{ctx.node}:{input_hash}:quarantine:{canonical_json_hash(document)}",
    )
