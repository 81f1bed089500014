"""Nodes on the Anthropic provider: who answered on the card, quarantine, idempotent replay.

The instrumented nodes run with an in-memory store, a local artifact store and the real
SDK on a fake transport (see :mod:`anthropic_fake`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic_fake as af
import pytest
from fakes import FakeStore
from langgraph.runtime import Runtime

from agentic_mlops.artifacts.store import LocalArtifactStore
from agentic_mlops.domain import MLOpsProjectState, ReasonCard
from agentic_mlops.errors import DeterminismBudgetExceeded
from agentic_mlops.providers import resilience
from agentic_mlops.providers.anthropic_provider import AnthropicProvider
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.settings import provider_settings
from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.instrument import RunContext, instrument

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]
THREAD = "ds-provider-nodes"
OFFLINE = OfflineProvider()


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    resilience.reset_breakers()
    yield
    resilience.reset_breakers()


class Harness:
    """Calls instrumented nodes like LangGraph does, with a provider on a fake transport."""

    def __init__(self, fake: af.FakeAnthropic, artifacts: LocalArtifactStore | None) -> None:
        self.fake = fake
        self.store = FakeStore()
        self.artifacts = artifacts
        self.streamed: list[dict[str, Any]] = []
        settings = provider_settings(
            {"ANTHROPIC_API_KEY": "sk-test", "AGENTIC_MLOPS_BREAKER_FAIL_MAX": "2"}
        )
        self.provider = AnthropicProvider(
            settings, http_client=fake.http_client(), sleep=lambda s: None
        )

    def call(self, name: str, state: MLOpsProjectState) -> dict[str, Any]:
        runtime: Any = Runtime(
            context=RunContext(store=self.store, provider=self.provider, artifacts=self.artifacts),
            stream_writer=self.streamed.append,
        )
        config: Any = {"configurable": {"thread_id": THREAD}, "metadata": {"langgraph_step": 5}}
        return instrument(name, getattr(nodes, name))(state, config, runtime)

    def cards(self) -> list[ReasonCard]:
        return [
            ReasonCard.model_validate(e.payload)
            for e in self.store.events[THREAD]
            if e.type == "reason-card"
        ]


@pytest.fixture
def state() -> MLOpsProjectState:
    constraints = OFFLINE.extract_constraints(CHURN, {}).value.constraints
    return MLOpsProjectState(
        decision_set_id=THREAD, project_id="prj", request=CHURN, constraints=constraints
    )


def test_a_replayed_node_does_not_call_the_model_again(state, tmp_path: Path) -> None:
    # Given the planner run once through the Anthropic provider
    fake = af.FakeAnthropic(responder=af.offline_responder())
    harness = Harness(fake, LocalArtifactStore(tmp_path))
    first = harness.call("planner", state)
    assert fake.calls == 1

    # When the same node is replayed with the same state (a retry after a lost response)
    replayed = harness.call("planner", state)

    # Then the cached output is returned and the model is not called again
    assert replayed == first
    assert fake.calls == 1
    assert len(harness.cards()) == 1
    (card,) = harness.cards()
    assert (card.provider, card.few_shot_pack, card.attempts) == ("anthropic", "plan@v1", 1)
    assert card.prompt_digest is not None and card.fallback_reason is None

    # And another input state does call it
    harness.call("planner", state.model_copy(update={"request": CHURN + " Now."}))
    assert fake.calls == 2


def test_the_card_of_a_node_that_fell_back_names_the_offline_provider_and_why(state, tmp_path):
    # Given both models overloaded
    fake = af.FakeAnthropic(responder=lambda request: af.overloaded())
    harness = Harness(fake, LocalArtifactStore(tmp_path))

    # When the planner runs
    output = harness.call("planner", state)

    # Then the node finished on the offline plan and its card says so
    assert output["plan"] == OFFLINE.plan(state.constraints).value.model_dump(mode="json")
    (card,) = harness.cards()
    assert (card.provider, card.model) == ("offline", OFFLINE.model)
    assert card.few_shot_pack_hash == OFFLINE.pack_hash()
    assert "overloaded (529)" in card.fallback_reason
    assert "circuit breaker open" in card.fallback_reason
    assert resilience.breaker_states() == {
        "anthropic:claude-haiku-5-5": "open",
        "anthropic:claude-sonnet-5-5": "open",
    }


def test_three_invalid_answers_quarantine_the_payloads_and_fail_the_node(state, tmp_path):
    # Given a model that answers the plan tool with an unknown service, three times
    plan = OFFLINE.plan(state.constraints)
    payload = {
        "plan": plan.value.model_dump(mode="json"),
        "explanation": plan.explanation.model_dump(mode="json"),
    }
    payload["plan"]["components"][0]["service"] = "quantum_storage"
    fake = af.FakeAnthropic([af.tool_use("record_plan", payload) for _ in range(3)])
    artifacts = LocalArtifactStore(tmp_path)
    harness = Harness(fake, artifacts)

    # When the planner runs
    with pytest.raises(DeterminismBudgetExceeded) as caught:
        harness.call("planner", state)

    # Then an event says the payloads were quarantined, and it was streamed
    events = harness.store.events[THREAD]
    assert [e.type for e in events] == ["payload-quarantined"]
    event = events[0].payload
    assert harness.streamed and harness.streamed[0]["type"] == "payload-quarantined"
    assert event["node"] == "planner"
    assert event["error"] == "determinism_budget_exceeded"
    assert event["attempts"] == 3
    assert event["prompt_digest"] == caught.value.prompt_digest
    assert event["key"].startswith("quarantine/determinism/sha256/")

    # And the quarantined document holds the payloads, the digest and the context
    document = json.loads(artifacts.get(event["key"]))
    assert document["decision_set_id"] == THREAD
    assert document["node"] == "planner"
    assert document["model"] == "claude-sonnet-5-5"
    assert document["few_shot_pack"] == "plan@v1"
    assert document["prompt_digest"] == caught.value.prompt_digest
    assert document["input_hash"] == harness.store.runs[next(iter(harness.store.runs))].input_hash
    assert [p["payload"] for p in document["invalid_payloads"]] == [payload] * 3
    assert document["request"]["tool_choice"] == {"type": "tool", "name": "record_plan"}
    assert "determinism budget exceeded: planner" in artifacts.reason(event["key"])

    # And the node run is recorded as failed
    (run,) = harness.store.runs.values()
    assert run.status == "failed"
    assert run.error.startswith("DeterminismBudgetExceeded: ")


def test_without_an_artifact_store_the_event_still_reports_the_failure(state) -> None:
    fake = af.FakeAnthropic([af.text_only("no tool, sorry") for _ in range(3)])
    harness = Harness(fake, artifacts=None)
    with pytest.raises(DeterminismBudgetExceeded):
        harness.call("planner", state)
    (event,) = harness.store.events[THREAD]
    assert event.type == "payload-quarantined"
    assert event.payload["key"] is None
    assert "no artifact store" in event.payload["quarantine_error"]


def test_offline_provider_cards_keep_their_shape(state, tmp_path) -> None:
    # The offline provider attaches no call metadata: its cards carry no audit extras
    store = FakeStore()
    runtime: Any = Runtime(
        context=RunContext(store=store, provider=OFFLINE), stream_writer=lambda m: None
    )
    instrument("planner", nodes.planner)(state, {"configurable": {"thread_id": THREAD}}, runtime)
    card = ReasonCard.model_validate(store.events[THREAD][0].payload)
    assert (card.provider, card.model, card.few_shot_pack_hash) == (
        "offline",
        OFFLINE.model,
        OFFLINE.pack_hash(),
    )
    assert (card.few_shot_pack, card.prompt_digest, card.attempts, card.fallback_reason) == (
        None,
        None,
        None,
        None,
    )
