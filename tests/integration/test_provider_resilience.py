"""Whole runs on the Anthropic provider (real SDK, fake HTTP transport) on real PostgreSQL:
a valid plan from the model, a storm that ends on the offline fallback, a determinism
failure that quarantines and fails the run (CLI and Step Functions alike), and a switch
from offline to Anthropic by configuration alone."""

from __future__ import annotations

import importlib.util
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic_fake as af
import pytest
from harness import Harness, step_functions_platform
from sfn_harness import step_functions

from agentic_mlops.cli import EXIT_FAILED, EXIT_NEEDS_APPROVAL, main
from agentic_mlops.domain import ApprovalDecision, ReasonCard
from agentic_mlops.errors import NodeFailed
from agentic_mlops.persistence import Database
from agentic_mlops.providers import resilience
from agentic_mlops.providers.anthropic_provider import AnthropicProvider
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.settings import provider_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
GOLDEN = json.loads((ROOT / "tests" / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]
PROVIDER_NODES = {"extract_constraints", "planner", "critic_tech", "critic_cost"}
OFFLINE = OfflineProvider()


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    resilience.reset_breakers()
    yield
    resilience.reset_breakers()


def anthropic(fake: af.FakeAnthropic, **env: str) -> AnthropicProvider:
    settings = provider_settings({"ANTHROPIC_API_KEY": "sk-test", **env})
    return AnthropicProvider(settings, http_client=fake.http_client(), sleep=lambda s: None)


def cards(database: Database, ds_id: str) -> dict[str, ReasonCard]:
    return {
        e.payload["node"]: ReasonCard.model_validate(e.payload)
        for e in database.store.list_events(ds_id, event_type="reason-card")
    }


def invalid_planner(recorded: af.Recorded) -> af.Reply:
    """Answers every tool like the offline provider, except the planner: always invalid."""
    reply = af.offline_responder()(recorded)
    if recorded.tool == "record_plan":
        reply.body["content"][0]["input"]["plan"]["components"][0]["service"] = "warp_drive"
    return reply


def test_a_run_on_anthropic_produces_a_valid_plan_and_cards_naming_the_model(database):
    # Given the Anthropic provider whose model answers every tool validly
    fake = af.FakeAnthropic(responder=af.offline_responder("claude-sonnet-5-5"))
    engine = Harness(database, anthropic(fake))

    # When a request is run to the approval gate and approved with a comment
    paused = engine.start("llm-happy", CHURN)
    assert paused.status == "awaiting_approval", paused.pending
    done = engine.decide(
        paused.decision_set.id,
        ApprovalDecision(decision="approve", comment="use spot instances", approver="alice"),
    )

    # Then the run is approved with a valid plan, re-made for spot training: the same the
    # offline reasoning gives for the constraints the comment changed
    assert done.status == "approved"
    asked = OFFLINE.extract_constraints(CHURN, {}).value.constraints
    assert asked.use_spot_training is not True
    spot = asked.model_copy(update={"use_spot_training": True})
    assert done.state.plan == OFFLINE.plan(spot).value
    assert done.state.constraints.use_spot_training is True
    assert done.state.validation.passed

    # And every provider node's card names Anthropic, the model, its pack and its digest
    by_node = cards(database, paused.decision_set.id)
    for node in PROVIDER_NODES | {"process_approval_feedback"}:
        card = by_node[node]
        assert (card.provider, card.model, card.attempts) == ("anthropic", "claude-sonnet-5-5", 1)
        assert card.few_shot_pack and card.prompt_digest and card.fallback_reason is None
    assert by_node["planner"].few_shot_pack == "plan@v1"
    # extract, plan, tech, cost, feedback, then the re-plan: plan, tech, cost; one request each
    assert fake.calls == 8


def test_a_storm_ends_the_run_on_the_offline_fallback_with_cards_saying_so(database):
    # Given both models answering only 429 and 529
    fake = af.FakeAnthropic(
        responder=lambda r: af.rate_limited() if fake.calls % 2 else af.overloaded()
    )
    engine = Harness(
        database,
        anthropic(fake, AGENTIC_MLOPS_BREAKER_FAIL_MAX="2", AGENTIC_MLOPS_PROVIDER_RETRIES="3"),
    )

    # When a request is run
    paused = engine.start("llm-storm", CHURN)

    # Then the run reaches the approval gate on the offline provider
    assert paused.status == "awaiting_approval"
    assert paused.state.plan == OFFLINE.plan(paused.state.constraints).value

    # And the breakers opened: only the first node's calls reached the models
    assert set(resilience.breaker_states().values()) == {"open"}
    assert fake.calls == 4
    by_node = cards(database, paused.decision_set.id)
    for node in PROVIDER_NODES:
        card = by_node[node]
        assert (card.provider, card.model) == ("offline", OFFLINE.model)
        assert card.few_shot_pack_hash == OFFLINE.pack_hash()
        assert "claude-sonnet-5-5, claude-haiku-5-5 unavailable" in card.fallback_reason
        assert "circuit breaker open" in card.fallback_reason
    assert "(529)" in by_node["extract_constraints"].fallback_reason


def test_three_invalid_plans_quarantine_the_payloads_and_fail_the_run(database):
    # Given a model whose plans never validate
    fake = af.FakeAnthropic(responder=invalid_planner)
    engine = Harness(database, anthropic(fake))

    # When a request is run
    with pytest.raises(NodeFailed) as caught:
        engine.start("llm-quarantine", CHURN)

    # Then the run ended as failed, with the quarantine event before run-complete
    assert caught.value.cause_code == "determinism_budget_exceeded"
    ds_id = caught.value.decision_set_id
    assert database.store.get_decision_set(ds_id).status == "failed"
    events = database.store.list_events(ds_id)
    types = [e.type for e in events]
    assert types[-2:] == ["payload-quarantined", "run-complete"]
    quarantined, complete = events[-2].payload, events[-1].payload
    assert complete["outcome"] == "failed"
    assert complete["error"] == "determinism_budget_exceeded"
    assert "PlanAnswer" in complete["message"]
    assert quarantined["node"] == "planner" and quarantined["attempts"] == 3

    # And the quarantined document is in the engine's artifact store, with its context
    document = json.loads(engine.artifacts.get(quarantined["key"]))
    assert document["decision_set_id"] == ds_id
    assert [p["attempt"] for p in document["invalid_payloads"]] == [1, 2, 3]
    assert "warp_drive" in json.dumps(document["invalid_payloads"][0]["errors"])
    assert [r.tool for r in fake.requests].count("record_plan") == 3
    planner_run = next(r for r in database.store.list_runs(ds_id) if r.node == "planner")
    assert planner_run.status == "failed"


# the CLI: configuration alone switches the provider --------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, capsys) -> Callable[..., Any]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "1000")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_configuration_alone_switches_the_cli_from_offline_to_anthropic(
    cli, monkeypatch, database: Database
) -> None:
    fake = af.FakeAnthropic(responder=af.offline_responder())
    with fake.serve() as base_url:
        # Given no key: the offline provider answers, and the model is never called
        code, out, _ = cli("run", CHURN, "--project", f"llm-cli-{uuid.uuid4().hex[:6]}", "--json")
        assert code == EXIT_NEEDS_APPROVAL
        offline_id = json.loads(out)["decision_set_id"]
        assert fake.calls == 0
        assert cards(database, offline_id)["planner"].provider == "offline"

        # When only the SDK's own variables are set
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("AGENTIC_MLOPS_ANTHROPIC_MODEL", "claude-opus-5-5")
        code, out, _ = cli("run", CHURN, "--project", f"llm-cli-{uuid.uuid4().hex[:6]}", "--json")

    # Then the same command runs on Anthropic, through that base URL, with that model
    assert code == EXIT_NEEDS_APPROVAL
    ds_id = json.loads(out)["decision_set_id"]
    planner = cards(database, ds_id)["planner"]
    assert (planner.provider, planner.model) == ("anthropic", "claude-opus-5-5")
    assert fake.calls == 4
    assert {r.model for r in fake.requests} == {"claude-opus-5-5"}
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test" or (
        fake.requests[0].headers.get("x-api-key") == "sk-test"
    )


def test_the_cli_reports_a_determinism_failure_in_one_line_and_exits_1(cli, monkeypatch):
    fake = af.FakeAnthropic(responder=invalid_planner)
    with fake.serve() as base_url:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        code, out, err = cli("run", CHURN, "--project", f"llm-cli-{uuid.uuid4().hex[:6]}")
    assert code == EXIT_FAILED == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("agentic-mlops: error: decision set ")
    assert "(determinism_budget_exceeded)" in lines[0] and "PlanAnswer" in lines[0]
    assert "Traceback" not in out + err


def test_a_bad_provider_setting_is_a_one_line_input_error(cli, monkeypatch) -> None:
    monkeypatch.setenv("AGENTIC_MLOPS_BREAKER_FAIL_MAX", "many")
    code, _, err = cli("run", CHURN, "--project", "llm-bad-config")
    assert code == 2
    assert err.strip().splitlines() == [
        "agentic-mlops: error: invalid configuration: AGENTIC_MLOPS_BREAKER_FAIL_MAX="
        "'many': Input should be a valid integer, unable to parse string as an integer"
    ]


# Step Functions: not retried, failed by the failure handler ------------------------------


def _load_handler(function: str) -> Callable[[dict[str, Any], Any], Any]:
    path = ROOT / "functions" / function / "app.py"
    module_spec = importlib.util.spec_from_file_location(f"llm_{function}_app", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.handler


def test_on_step_functions_a_determinism_failure_is_not_retried_and_fails_the_run(
    database: Database, database_url: str, monkeypatch
) -> None:
    # Given the node runner's engine on a model whose plans never validate
    fake = af.FakeAnthropic(responder=invalid_planner)
    calls: list[str] = []

    def counted(handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            calls.append(event.get("node", "failure"))
            return handler(event, context)

        return run

    handlers = {
        "NodeRunner": counted(_load_handler("node_runner")),
        "WaitRegistrar": counted(_load_handler("wait_registrar")),
        "FailureHandler": counted(_load_handler("failure_handler")),
    }
    definition = (ROOT / "statemachines" / "mlops_workflow.asl.json").read_text()
    with step_functions(handlers) as sfn:
        arn = sfn.create_state_machine(
            definition,
            {
                "NodeRunnerFunctionArn": sfn.function_arn("NodeRunner"),
                "WaitRegistrarFunctionArn": sfn.function_arn("WaitRegistrar"),
                "FailureHandlerFunctionArn": sfn.function_arn("FailureHandler"),
                "QuestionTimeoutSeconds": "300",
                "ApprovalTimeoutSeconds": "300",
            },
        )
        cloud = step_functions_platform(database, sfn.client, arn, anthropic(fake))

        # When the run is started on the state machine
        ds_id = cloud.start("llm-sfn", CHURN).decision_set.id
        deadline = time.monotonic() + 90
        while database.store.get_decision_set(ds_id).status not in {"failed", "approved"}:
            assert time.monotonic() < deadline, "the run did not end"
            time.sleep(0.05)
        execution = sfn.wait(arn.replace(":stateMachine:", ":execution:") + f":{ds_id}")

    # Then the planner ran once (no Retry), the failure handler marked the run failed
    assert calls.count("planner") == 1
    assert "failure" in calls
    assert execution["status"] in {"SUCCEEDED", "FAILED"}
    assert database.store.get_decision_set(ds_id).status == "failed"
    types = [e.type for e in database.store.list_events(ds_id)]
    assert "payload-quarantined" in types
    complete = database.store.list_events(ds_id, event_type="run-complete")[-1].payload
    assert complete["outcome"] == "failed"
    assert complete["error"] == "determinism_budget_exceeded"
