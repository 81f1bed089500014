"""What every node goes through: idempotency keys, cached outputs, events and streaming.

:func:`instrument` is called directly with a LangGraph ``Runtime`` whose context holds an
in-memory :class:`PlatformStore` (no PostgreSQL) and whose stream writer records messages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeStore
from langgraph.errors import GraphInterrupt
from langgraph.runtime import Runtime

from agentic_mlops.canonical import canonical_json_hash, node_run_key
from agentic_mlops.domain import ConstraintSchema, Explanation, MLOpsProjectState, ReasonCard
from agentic_mlops.domain.plan import Alternative
from agentic_mlops.persistence.models import (
    AgentRun,
    Event,
)
from agentic_mlops.providers.offline.provider import OfflineProvider
from agentic_mlops.streaming import EventType
from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.instrument import NodeContext, RunContext, instrument

PROVIDER = OfflineProvider()
THREAD = "ds-runtime"


# helpers --------------------------------------------------------------------------------


class Probe:
    """A node function that counts its calls, emits given events, then returns or raises."""

    def __init__(
        self,
        events: Sequence[tuple[EventType, dict[str, Any]]] = (),
        output: dict[str, Any] | None = None,
        error: BaseException | None = None,
    ) -> None:
        self.events = list(events)
        self.output = {"status": "running"} if output is None else output
        self.error = error
        self.calls = 0

    def __call__(self, state: MLOpsProjectState, ctx: NodeContext) -> dict[str, Any]:
        self.calls += 1
        for event_type, payload in self.events:
            ctx.emit(event_type, payload)
        if self.error is not None:
            raise self.error
        return self.output


class Harness:
    """Calls an instrumented node the way LangGraph does, recording streamed messages."""

    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()
        self.messages: list[dict[str, Any]] = []

    def call(
        self,
        name: str,
        fn: Any,
        state: MLOpsProjectState,
        *,
        thread: str = THREAD,
        step: int | None = 3,
    ) -> dict[str, Any]:
        self.messages = []
        config: dict[str, Any] = {"configurable": {"thread_id": thread}}
        if step is not None:
            config["metadata"] = {"langgraph_step": step}
        runtime = Runtime(
            context=RunContext(store=self.store, provider=PROVIDER),
            stream_writer=self.messages.append,
        )
        return instrument(name, fn)(state, config, runtime)

    def stored(self, thread: str = THREAD) -> list[Event]:
        return self.store.events[thread]


def make_state(request: str = "Prévision des ventes — 40 Go, budget 1 500 €") -> MLOpsProjectState:
    return MLOpsProjectState(decision_set_id=THREAD, project_id="prj-1", request=request)


def hand_state_hash(state: MLOpsProjectState) -> str:
    text = json.dumps(
        state.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hand_run_key(thread: str, node: str, state: MLOpsProjectState) -> str:
    return hashlib.sha256(f"{thread}|{node}|{hand_state_hash(state)}".encode()).hexdigest()


TWO_EVENTS = (
    (EventType.QUESTION, {"n": 1}),
    (EventType.COST_UPDATE, {"n": 2}),
)


# keys -----------------------------------------------------------------------------------


def test_node_run_key_is_sha256_of_thread_node_and_state_hash() -> None:
    # Given a state with non-ASCII text
    state = make_state()
    expected = hand_run_key(THREAD, "probe", state)

    # When the key is computed by the product and a node is run with that state
    key = node_run_key(THREAD, "probe", state.model_dump(mode="json"))
    harness = Harness()
    harness.call("probe", Probe(), state)

    # Then both equal sha256(thread|node|sha256(canonical JSON)) computed by hand
    assert key == expected
    assert canonical_json_hash(state.model_dump(mode="json")) == hand_state_hash(state)
    assert list(harness.store.runs) == [expected]
    assert harness.store.runs[expected].input_hash == hand_state_hash(state)


@pytest.mark.parametrize(
    ("thread", "node", "request_text"),
    [
        ("ds-other", "probe", "Prévision des ventes — 40 Go, budget 1 500 €"),
        (THREAD, "other_node", "Prévision des ventes — 40 Go, budget 1 500 €"),
        (THREAD, "probe", "a different request"),
    ],
)
def test_node_run_key_changes_with_thread_node_or_state(
    thread: str, node: str, request_text: str
) -> None:
    # Given the reference key and a variation of one of its three parts
    reference = node_run_key(THREAD, "probe", make_state().model_dump(mode="json"))

    # When the varied key is computed
    varied = node_run_key(thread, node, make_state(request_text).model_dump(mode="json"))

    # Then it differs
    assert varied != reference


# idempotency ----------------------------------------------------------------------------


def test_succeeded_run_is_returned_from_cache_without_calling_the_node() -> None:
    # Given a succeeded run already recorded under the node's key
    state = make_state()
    harness = Harness()
    key = hand_run_key(THREAD, "probe", state)
    harness.store.complete_run(
        AgentRun(
            key=key,
            decision_set_id=THREAD,
            node="probe",
            input_hash=hand_state_hash(state),
            status="succeeded",
            output={"status": "approved", "from": "cache"},
            error=None,
            executions=1,
        ),
        [],
    )
    probe = Probe(events=TWO_EVENTS)

    # When the instrumented node runs on the same state
    output = harness.call("probe", probe, state)

    # Then the cached output is returned, the function is not called, nothing is streamed
    assert output == {"status": "approved", "from": "cache"}
    assert probe.calls == 0
    assert harness.messages == []
    assert harness.stored() == []


def test_second_run_with_same_input_uses_the_first_runs_output() -> None:
    # Given a node that already ran once on a state
    state = make_state()
    harness = Harness()
    probe = Probe(events=TWO_EVENTS, output={"status": "awaiting_input"})
    first = harness.call("probe", probe, state)

    # When it runs again on the same state
    second = harness.call("probe", probe, state)

    # Then the function ran once, the output is the same and nothing new is stored
    assert probe.calls == 1
    assert first == second == {"status": "awaiting_input"}
    assert harness.messages == []
    assert len(harness.stored()) == 2
    assert [r.executions for r in harness.store.runs.values()] == [1]


def test_cache_is_per_thread() -> None:
    # Given a node that already ran on a state in one thread
    state = make_state()
    harness = Harness()
    probe = Probe()
    harness.call("probe", probe, state)

    # When it runs on the same state in another thread
    harness.call("probe", probe, state, thread="ds-other")

    # Then it is executed again, under a different key
    assert probe.calls == 2
    assert len(harness.store.runs) == 2


def test_failed_run_is_not_a_cache_hit() -> None:
    # Given a failed run recorded under the node's key
    state = make_state()
    harness = Harness()
    key = hand_run_key(THREAD, "probe", state)
    harness.store.complete_run(
        AgentRun(
            key=key,
            decision_set_id=THREAD,
            node="probe",
            input_hash=hand_state_hash(state),
            status="failed",
            output=None,
            error="ValueError: earlier",
            executions=1,
        ),
        [],
    )
    probe = Probe(output={"status": "running"})

    # When the node runs on the same state
    output = harness.call("probe", probe, state)

    # Then it is executed and the run is now succeeded
    assert probe.calls == 1
    assert output == {"status": "running"}
    assert harness.store.runs[key].status == "succeeded"
    assert harness.store.runs[key].executions == 2


# successful runs ------------------------------------------------------------------------


def test_succeeded_run_is_recorded_with_its_output() -> None:
    # Given a node returning an update
    state = make_state()
    harness = Harness()

    # When it runs
    output = harness.call("probe", Probe(output={"status": "approved"}), state)

    # Then its run is recorded as succeeded with that output
    (run,) = harness.store.runs.values()
    assert output == {"status": "approved"}
    assert run.status == "succeeded"
    assert run.output == output
    assert run.error is None
    assert (run.decision_set_id, run.node, run.executions) == (THREAD, "probe", 1)
    assert run.duration_ms is not None and run.duration_ms >= 0


def test_events_are_stored_in_order_with_node_step_and_dedupe_keys() -> None:
    # Given a node emitting two events at graph step 7
    state = make_state()
    harness = Harness()

    # When it runs
    harness.call("probe", Probe(events=TWO_EVENTS), state, step=7)

    # Then both are stored in order, tagged with the node and step
    stored = harness.stored()
    assert [(e.seq, e.type, e.payload) for e in stored] == [
        (1, "question", {"n": 1}),
        (2, "cost-update", {"n": 2}),
    ]
    assert {(e.node, e.step) for e in stored} == {("probe", 7)}
    # and their dedupe keys are node:input hash:index
    digest = hand_state_hash(state)
    assert harness.store.dedupe_keys[THREAD] == [f"probe:{digest}:0", f"probe:{digest}:1"]


def test_events_have_no_step_without_langgraph_metadata() -> None:
    # Given a config without LangGraph's step metadata
    harness = Harness()

    # When a node emitting events runs
    harness.call("probe", Probe(events=TWO_EVENTS), make_state(), step=None)

    # Then the events are stored without a step
    assert [e.step for e in harness.stored()] == [None, None]


def test_streamed_messages_are_exactly_the_stored_events() -> None:
    # Given a node emitting two events
    harness = Harness()

    # When it runs
    harness.call("probe", Probe(events=TWO_EVENTS), make_state())

    # Then the stream writer received exactly the stored events' messages, in order
    assert harness.messages == [e.message() for e in harness.stored()]
    assert [m["type"] for m in harness.messages] == ["question", "cost-update"]
    assert {m["decision_set_id"] for m in harness.messages} == {THREAD}


def test_rerunning_the_same_node_on_the_same_input_stores_no_duplicate_events() -> None:
    # Given a node that ran and stored its events, whose run record is then lost (a replay)
    state = make_state()
    harness = Harness()
    probe = Probe(events=TWO_EVENTS)
    harness.call("probe", probe, state)
    harness.store.runs.clear()

    # When it runs again on the same input
    harness.call("probe", probe, state)

    # Then it executed twice but its events are stored and streamed only once
    assert probe.calls == 2
    assert [e.seq for e in harness.stored()] == [1, 2]
    assert harness.messages == []


def test_only_newly_stored_events_are_streamed_on_a_rerun() -> None:
    # Given a node that stored two events, then is replayed emitting a third one as well
    state = make_state()
    harness = Harness()
    harness.call("probe", Probe(events=TWO_EVENTS), state)
    harness.store.runs.clear()
    extra = (EventType.POLICY_UPDATE, {"n": 3})

    # When it runs again on the same input
    harness.call("probe", Probe(events=[*TWO_EVENTS, extra]), state)

    # Then only the third event is stored and streamed
    stored = harness.stored()
    assert [e.type for e in stored] == ["question", "cost-update", "policy-update"]
    assert harness.messages == [stored[2].message()]


def test_same_events_from_different_inputs_are_not_deduplicated() -> None:
    # Given a node that ran on one state
    harness = Harness()
    probe = Probe(events=TWO_EVENTS)
    harness.call("probe", probe, make_state("first request"))

    # When it runs on another state emitting identical payloads
    harness.call("probe", probe, make_state("second request"))

    # Then the second run's events are stored too (the key includes the input hash)
    assert [e.seq for e in harness.stored()] == [1, 2, 3, 4]
    assert [m["seq"] for m in harness.messages] == [3, 4]


# failing runs ---------------------------------------------------------------------------


def test_failing_node_is_recorded_as_failed_and_reraised_without_its_events() -> None:
    # Given a node that emits events and then fails
    state = make_state()
    harness = Harness()
    probe = Probe(events=TWO_EVENTS, error=ValueError("boom"))

    # When it runs
    with pytest.raises(ValueError, match="boom"):
        harness.call("probe", probe, state)

    # Then the run is recorded as failed with the error and no output
    run = harness.store.runs[hand_run_key(THREAD, "probe", state)]
    assert (run.status, run.output, run.error) == ("failed", None, "ValueError: boom")
    assert run.duration_ms is not None and run.duration_ms >= 0
    # and its events are neither stored nor streamed
    assert harness.stored() == []
    assert harness.messages == []


def test_failed_node_runs_again_and_then_stores_its_events() -> None:
    # Given a node that failed once on a state
    state = make_state()
    harness = Harness()
    with pytest.raises(RuntimeError):
        harness.call("probe", Probe(events=TWO_EVENTS, error=RuntimeError("flaky")), state)
    probe = Probe(events=TWO_EVENTS, output={"status": "running"})

    # When it is retried and succeeds
    output = harness.call("probe", probe, state)

    # Then it executed, succeeded (second execution) and its events are stored and streamed
    run = harness.store.runs[hand_run_key(THREAD, "probe", state)]
    assert probe.calls == 1
    assert output == {"status": "running"}
    assert (run.status, run.error, run.executions) == ("succeeded", None, 2)
    assert [m["type"] for m in harness.messages] == ["question", "cost-update"]


# pauses ---------------------------------------------------------------------------------


def test_pause_stores_and_streams_events_without_recording_a_run() -> None:
    # Given a node that emits events and then pauses (LangGraph's interrupt)
    state = make_state()
    harness = Harness()
    probe = Probe(events=TWO_EVENTS, error=GraphInterrupt(()))

    # When it runs
    with pytest.raises(GraphInterrupt):
        harness.call("probe", probe, state)

    # Then its events are stored and streamed, and no node run is recorded
    assert [e.type for e in harness.stored()] == ["question", "cost-update"]
    assert harness.messages == [e.message() for e in harness.stored()]
    assert harness.store.runs == {}


def test_resumed_pause_does_not_duplicate_its_events() -> None:
    # Given a node that paused after emitting events
    state = make_state()
    harness = Harness()
    with pytest.raises(GraphInterrupt):
        harness.call("probe", Probe(events=TWO_EVENTS, error=GraphInterrupt(())), state)

    # When it runs again on the same state and completes with one more event
    answer = (EventType.ANSWER_RECEIVED, {"answers": {"region": "eu-west-1"}})
    probe = Probe(events=[*TWO_EVENTS, answer])
    harness.call("probe", probe, state)

    # Then the function ran, only the new event is stored and streamed, the run is recorded
    assert probe.calls == 1
    assert [e.type for e in harness.stored()] == ["question", "cost-update", "answer-received"]
    assert [m["type"] for m in harness.messages] == ["answer-received"]
    assert [r.status for r in harness.store.runs.values()] == ["succeeded"]


# reason cards ---------------------------------------------------------------------------


def _covered_state() -> MLOpsProjectState:
    constraints = ConstraintSchema(deployment_mode="batch", region="eu-west-1")
    return make_state().model_copy(update={"constraints": constraints})


def test_reason_card_carries_the_input_digest_and_platform_identity() -> None:
    # Given a state with constraints and the real coverage node
    state = _covered_state()
    harness = Harness()
    before = datetime.now(UTC)

    # When the instrumented coverage node runs
    harness.call("coverage_check", nodes.coverage_check, state)

    # Then its reason card cites the input state's canonical hash, provider, model and pack
    (event,) = harness.stored()
    card = ReasonCard.model_validate(event.payload)
    assert event.type == "reason-card"
    assert card.node == "coverage_check"
    assert card.inputs_digest == hand_state_hash(state)
    assert card.inputs_digest == canonical_json_hash(state.model_dump(mode="json"))
    assert (card.provider, card.model) == ("platform", "coverage-rules")
    assert card.few_shot_pack_hash == PROVIDER.pack_hash()
    assert card.duration_ms >= 0
    started = datetime.fromisoformat(card.started_at)
    assert before <= started <= datetime.now(UTC)


def test_reason_card_of_a_provider_node_names_the_provider() -> None:
    # Given a request and the real extraction node
    state = make_state("Nightly churn model on 40 GB of data in eu-west-1, budget $1,500/month.")
    harness = Harness()

    # When the instrumented extraction node runs
    harness.call("extract_constraints", nodes.extract_constraints, state)

    # Then its card names the offline provider, its model and its pack hash
    card = ReasonCard.model_validate(harness.stored()[0].payload)
    assert (card.provider, card.model) == (PROVIDER.name, PROVIDER.model)
    assert card.few_shot_pack_hash == PROVIDER.pack_hash()
    assert card.inputs_digest == hand_state_hash(state)
    assert [e.type for e in harness.stored()] == ["reason-card", "constraints-update"]


def test_node_context_reason_card_defaults_and_overrides() -> None:
    # Given a node context and an explanation with an alternative
    started = datetime.now(UTC)
    ctx = NodeContext("n", PROVIDER, "d" * 64, started)
    explanation = Explanation(
        decision="do it",
        rationale="because",
        alternatives=[Alternative(option="other", reason="worse")],
        confidence=0.7,
    )

    # When a card is emitted with defaults and another with overrides
    default = ctx.reason_card(explanation)
    overridden = ctx.reason_card(explanation, provider="p", model="m", pack_hash="h")

    # Then the defaults come from the provider and the overrides win; both are emitted
    assert (default.provider, default.model, default.few_shot_pack_hash) == (
        "offline",
        "offline-rules-v1",
        PROVIDER.pack_hash(),
    )
    assert (overridden.provider, overridden.model, overridden.few_shot_pack_hash) == (
        "p",
        "m",
        "h",
    )
    assert default.inputs_digest == "d" * 64
    assert default.started_at == started.isoformat()
    assert default.alternatives == explanation.alternatives
    assert default.duration_ms >= 0
    assert ctx.events == [
        ("reason-card", default.model_dump(mode="json")),
        ("reason-card", overridden.model_dump(mode="json")),
    ]
