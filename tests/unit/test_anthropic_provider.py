"""The Anthropic provider with the real SDK on a fake HTTP transport (no network).

Structured output by a forced tool, schema-first validation with corrective turns and a
determinism budget, retries honouring retry-after, per-model circuit breakers, and the
fallback chain primary -> secondary -> offline.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic_fake as af
import pytest

from agentic_mlops.canonical import canonical_json
from agentic_mlops.domain import ConstraintSchema, Plan
from agentic_mlops.errors import DeterminismBudgetExceeded, ProviderUnavailable
from agentic_mlops.providers import anthropic_provider, resilience
from agentic_mlops.providers.answers import PlanAnswer
from agentic_mlops.providers.anthropic_provider import AnthropicProvider
from agentic_mlops.providers.fewshot import PackRegistry
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.providers.settings import ProviderSettings
from agentic_mlops.settings import provider_settings

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]
OFFLINE = OfflineProvider()
PRIMARY, SECONDARY = "claude-sonnet-5-5", "claude-haiku-5-5"


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    resilience.reset_breakers()
    yield
    resilience.reset_breakers()


@pytest.fixture
def constraints() -> ConstraintSchema:
    return OFFLINE.extract_constraints(CHURN, {}).value.constraints


@pytest.fixture
def valid_plan(constraints: ConstraintSchema) -> dict[str, Any]:
    result = OFFLINE.plan(constraints)
    return {
        "plan": result.value.model_dump(mode="json"),
        "explanation": result.explanation.model_dump(mode="json"),
    }


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_provider(fake: af.FakeAnthropic, sleeps: Sleeps | None = None, **env: str) -> Any:
    settings = provider_settings(
        {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": af.BASE_URL, **env}
    )
    return AnthropicProvider(
        settings,
        http_client=fake.http_client(),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=lambda: 0.0,
    )


def plan_tool(payload: dict[str, Any], model: str = PRIMARY) -> af.Reply:
    return af.tool_use("record_plan", payload, model=model)


def broken(valid_plan: dict[str, Any]) -> dict[str, Any]:
    """The valid plan with an unknown service: the schema's validator rejects it."""
    payload = json.loads(json.dumps(valid_plan))
    payload["plan"]["components"][0]["service"] = "quantum_storage"
    return payload


# the happy path -------------------------------------------------------------------------


def test_a_plan_comes_from_a_forced_tool_call_validated_against_its_schema(
    constraints, valid_plan
) -> None:
    # Given a model that answers the plan tool with a valid plan
    fake = af.FakeAnthropic([plan_tool(valid_plan)])
    provider = make_provider(fake)

    # When the provider plans
    result = provider.plan(constraints)

    # Then the plan is the validated tool input, and the call is recorded
    assert isinstance(result.value, Plan)
    assert result.value == Plan.model_validate(valid_plan["plan"])
    assert result.explanation.decision == valid_plan["explanation"]["decision"]
    pack = PackRegistry().get("plan")
    call = result.metadata
    assert (call.provider, call.model, call.attempts, call.fallback_reason) == (
        "anthropic",
        PRIMARY,
        1,
        None,
    )
    assert (call.few_shot_pack, call.few_shot_pack_hash) == ("plan@v1", pack.id)

    # And the request forced the tool whose input schema is the answer model's JSON schema
    (request,) = fake.requests
    body = request.json
    assert request.path == "/v1/messages"
    assert body["model"] == PRIMARY
    assert body["tool_choice"] == {"type": "tool", "name": "record_plan"}
    assert body["tools"][0]["input_schema"] == PlanAnswer.model_json_schema()
    assert body["system"] == pack.system_prompt()
    assert request.inputs()["constraints"] == constraints.model_dump(mode="json")
    assert "quantum_storage" not in request.inputs()["catalogue"]["services"]
    assert call.prompt_digest == hashlib.sha256(canonical_json(body).encode()).hexdigest()


def test_the_same_pack_and_inputs_give_the_same_request_byte_for_byte(
    constraints, valid_plan
) -> None:
    # Given two providers (two processes, say) with the same packs
    first, second = (
        af.FakeAnthropic([plan_tool(valid_plan)]),
        af.FakeAnthropic([plan_tool(valid_plan)]),
    )

    # When each plans the same constraints
    one = make_provider(first).plan(constraints)
    two = make_provider(second).plan(constraints.model_copy(deep=True))

    # Then the request bodies are identical bytes, and so are the recorded digests
    assert first.requests[0].body == second.requests[0].body
    assert one.metadata.prompt_digest == two.metadata.prompt_digest

    # And another input gives another request
    third = af.FakeAnthropic([plan_tool(valid_plan)])
    make_provider(third).plan(constraints.model_copy(update={"data_volume_gb": 41.0}))
    assert third.requests[0].body != first.requests[0].body


def test_temperature_zero_is_sent_only_where_the_sdk_still_has_it(constraints, monkeypatch):
    # The installed SDK decides: 2.x dropped sampling parameters (its API version rejects them)
    provider = make_provider(af.FakeAnthropic())
    inputs = {"constraints": constraints.model_dump(mode="json")}
    sdk_has_it = anthropic_provider._sdk_accepts_temperature()
    assert ("temperature" in provider.build_request("plan", PRIMARY, inputs)) is sdk_has_it

    monkeypatch.setattr(anthropic_provider, "_sdk_accepts_temperature", lambda: True)
    assert provider.build_request("plan", PRIMARY, inputs)["temperature"] == 0.0
    off = make_provider(af.FakeAnthropic(), AGENTIC_MLOPS_ANTHROPIC_TEMPERATURE="off")
    assert "temperature" not in off.build_request("plan", PRIMARY, inputs)


# schema-first validation ----------------------------------------------------------------


def test_a_malformed_tool_answer_is_corrected_on_the_second_turn(constraints, valid_plan) -> None:
    # Given a model whose first plan names an unknown service and whose second is valid
    fake = af.FakeAnthropic([plan_tool(broken(valid_plan)), plan_tool(valid_plan)])

    # When the provider plans
    result = make_provider(fake).plan(constraints)

    # Then the valid plan is returned after two turns
    assert result.value == Plan.model_validate(valid_plan["plan"])
    assert result.metadata.attempts == 2
    assert result.metadata.provider == "anthropic"

    # And the second request replays the first answer and returns the errors as a tool error
    first, second = (r.json for r in fake.requests)
    assert second["messages"][0] == first["messages"][0]
    assistant, correction = second["messages"][1:]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0]["input"] == broken(valid_plan)
    (tool_result,) = correction["content"]
    assert tool_result["type"] == "tool_result"
    assert tool_result["is_error"] is True
    assert tool_result["tool_use_id"] == assistant["content"][0]["id"]
    assert "plan.components.0.service" in tool_result["content"]
    assert "quantum_storage" in tool_result["content"]
    # the recorded digest is the first request's, whatever the corrections
    assert (
        result.metadata.prompt_digest == hashlib.sha256(canonical_json(first).encode()).hexdigest()
    )


def test_an_answer_without_the_tool_call_is_asked_again(constraints, valid_plan) -> None:
    fake = af.FakeAnthropic([af.text_only("Here is my plan: ..."), plan_tool(valid_plan)])
    result = make_provider(fake).plan(constraints)
    assert result.metadata.attempts == 2
    correction = fake.requests[1].json["messages"][-1]["content"][0]
    assert correction["type"] == "text"
    assert "no call of the tool record_plan" in correction["text"]


def test_questions_must_ask_exactly_the_missing_fields(constraints) -> None:
    # Given a model that first asks about the wrong field, then about the right ones
    missing = ["budget", "region"]
    good = OFFLINE.ask_questions(constraints, missing)
    payload = {
        "questions": [q.model_dump(mode="json") for q in good.value],
        "explanation": good.explanation.model_dump(mode="json"),
    }
    wrong = json.loads(json.dumps(payload))
    wrong["questions"][1]["field"] = "frameworks"
    fake = af.FakeAnthropic(
        [af.tool_use("record_ask_questions", wrong), af.tool_use("record_ask_questions", payload)]
    )

    # When the provider asks its questions
    result = make_provider(fake).ask_questions(constraints, missing)

    # Then the semantic problem was fed back like a schema error, and fixed
    assert [q.field for q in result.value] == missing
    assert result.metadata.attempts == 2
    assert "ask exactly one question per missing field" in json.dumps(fake.requests[1].json)


def test_three_invalid_answers_exceed_the_determinism_budget(constraints, valid_plan) -> None:
    # Given a model that never gives a valid plan
    fake = af.FakeAnthropic([plan_tool(broken(valid_plan)) for _ in range(3)])
    provider = make_provider(fake)

    # When the provider plans
    with pytest.raises(DeterminismBudgetExceeded) as caught:
        provider.plan(constraints)

    # Then three turns were made, all on the primary model (no fallback for bad answers)
    error = caught.value
    assert fake.calls == 3
    assert {r.model for r in fake.requests} == {PRIMARY}
    assert error.code == "determinism_budget_exceeded"
    assert (error.model, error.method, error.few_shot_pack) == (PRIMARY, "plan", "plan@v1")
    assert [p["attempt"] for p in error.invalid_payloads] == [1, 2, 3]
    assert all(p["payload"] == broken(valid_plan) for p in error.invalid_payloads)
    assert "quantum_storage" in error.invalid_payloads[0]["errors"][0]
    first = fake.requests[0].json
    assert error.request == first
    assert error.prompt_digest == hashlib.sha256(canonical_json(first).encode()).hexdigest()
    assert "\n" not in str(error)
    assert "PlanAnswer" in str(error)


# retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (af.rate_limited(retry_after="7"), 7.0),
        (af.rate_limited(retry_after="0.25"), 0.25),
        (af.rate_limited(retry_after_ms="1500"), 1.5),
        (af.rate_limited(retry_after="9", retry_after_ms="250"), 0.25),
    ],
)
def test_retry_after_is_honoured(constraints, valid_plan, reply, expected) -> None:
    # Given a 429 asking to wait, then a valid answer
    fake = af.FakeAnthropic([reply, plan_tool(valid_plan)])
    sleeps = Sleeps()

    # When the provider plans
    result = make_provider(fake, sleeps).plan(constraints)

    # Then it waited exactly as asked, once, and the primary model answered
    assert sleeps == [expected]
    assert result.metadata.model == PRIMARY
    assert result.metadata.fallback_reason is None
    assert fake.calls == 2


def test_a_retry_after_beyond_the_cap_gives_the_model_up_at_once(constraints, valid_plan):
    # Given a primary model asking to come back in an hour
    fake = af.FakeAnthropic([af.rate_limited(retry_after="3600"), plan_tool(valid_plan, SECONDARY)])
    sleeps = Sleeps()

    # When the provider plans
    result = make_provider(fake, sleeps).plan(constraints)

    # Then it did not wait: the secondary model answered, and the card will say why
    assert sleeps == []
    assert [r.model for r in fake.requests] == [PRIMARY, SECONDARY]
    assert result.metadata.model == SECONDARY
    assert result.metadata.fallback_reason == f"{PRIMARY}: rate limited (429)"


def test_transient_failures_back_off_exponentially_and_timeouts_are_retried(
    constraints, valid_plan
) -> None:
    # Given two server errors without retry-after and a timeout, then a valid answer
    fake = af.FakeAnthropic(
        [af.server_error(500), af.timeout(), af.server_error(503), plan_tool(valid_plan)]
    )
    sleeps = Sleeps()

    # When the provider plans with three retries (jitter at its lowest)
    result = make_provider(fake, sleeps, AGENTIC_MLOPS_PROVIDER_RETRIES="3").plan(constraints)

    # Then each wait doubled (base 0.5 s, half of it at the lowest jitter)
    assert sleeps == [0.25, 0.5, 1.0]
    assert result.metadata.model == PRIMARY
    assert fake.calls == 4


# breakers and the fallback chain --------------------------------------------------------


def test_a_storm_of_429_and_529_opens_the_breakers_and_the_offline_provider_answers(
    constraints,
) -> None:
    # Given both models answering only 429 and 529
    storm = itertools.cycle([af.rate_limited(), af.overloaded()])
    fake = af.FakeAnthropic(responder=lambda request: next(storm))
    provider = make_provider(fake, AGENTIC_MLOPS_BREAKER_FAIL_MAX="3")

    # When the provider plans
    result = provider.plan(constraints)

    # Then each model was tried until its breaker opened, and both breakers are open
    assert [r.model for r in fake.requests] == [PRIMARY] * 3 + [SECONDARY] * 3
    assert resilience.breaker_states() == {
        f"anthropic:{PRIMARY}": "open",
        f"anthropic:{SECONDARY}": "open",
    }

    # And the offline provider answered, with the reason naming the failures
    assert result.value == OFFLINE.plan(constraints).value
    call = result.metadata
    assert (call.provider, call.model) == ("offline", OFFLINE.model)
    assert call.few_shot_pack_hash == OFFLINE.pack_hash()
    assert call.fallback_reason.startswith(f"{PRIMARY}, {SECONDARY} unavailable: ")
    assert "circuit breaker open after overloaded (529)" in call.fallback_reason
    assert "rate limited (429)" in call.fallback_reason or "(529)" in call.fallback_reason

    # And while the breakers are open the models are skipped without a request
    again = provider.critique_technical(constraints, result.value)
    assert fake.calls == 6
    assert again.metadata.provider == "offline"
    assert again.metadata.fallback_reason.count("circuit breaker open") == 2


def test_a_client_error_falls_back_to_the_secondary_model_without_retry(
    constraints, valid_plan
) -> None:
    # Given a primary model that rejects the request (400), a secondary that answers
    fake = af.FakeAnthropic([af.bad_request(), plan_tool(valid_plan, SECONDARY)])
    sleeps = Sleeps()

    # When the provider plans
    result = make_provider(fake, sleeps).plan(constraints)

    # Then the 400 was not retried and does not count towards the primary's breaker
    assert sleeps == []
    assert result.metadata.model == SECONDARY
    assert result.metadata.fallback_reason == f"{PRIMARY}: HTTP error (400)"
    breaker = resilience.breaker_for("anthropic", PRIMARY, fail_max=5, reset_s=60.0)
    assert breaker.fail_counter == 0


def test_without_the_offline_fallback_an_outage_raises_provider_unavailable(constraints):
    # Given a strict deployment (no offline fallback) and both models overloaded
    fake = af.FakeAnthropic(responder=lambda request: af.overloaded())
    provider = make_provider(fake, AGENTIC_MLOPS_OFFLINE_FALLBACK="false")

    # When the provider plans, then the platform's "provider unavailable" error is raised
    with pytest.raises(ProviderUnavailable, match="every provider is unavailable for plan"):
        provider.plan(constraints)
    assert {r.model for r in fake.requests} == {PRIMARY, SECONDARY}


def test_a_key_that_cannot_be_read_falls_back_to_offline(constraints, monkeypatch) -> None:
    # Given a secret that cannot be read (Secrets Manager down, say)
    def unreadable(settings: ProviderSettings) -> str:
        raise RuntimeError("AccessDeniedException")

    monkeypatch.setattr(anthropic_provider, "resolve_api_key", unreadable)
    fake = af.FakeAnthropic()

    # When the provider plans
    result = make_provider(fake).plan(constraints)

    # Then no request was sent and the offline provider answered, saying why
    assert fake.calls == 0
    assert result.metadata.provider == "offline"
    assert "AccessDeniedException" in result.metadata.fallback_reason


# the other methods ------------------------------------------------------------------------


def test_answers_are_parsed_offline_and_override_the_model(constraints) -> None:
    # Given a model that read a budget of $1,500/month and a user's answer of $900/month
    extraction = OFFLINE.extract_constraints(CHURN, {})
    payload = {
        "constraints": extraction.value.constraints.model_dump(mode="json"),
        "evidence": extraction.value.evidence,
        "explanation": extraction.explanation.model_dump(mode="json"),
    }
    fake = af.FakeAnthropic([af.tool_use("record_extract_constraints", payload)])

    # When the constraints are extracted with the answer
    result = make_provider(fake).extract_constraints(CHURN, {"budget": "$900/month"})

    # Then the answer wins and is cited as the evidence
    assert result.value.constraints.budget.monthly_usd == 900
    assert result.value.evidence["budget"] == "answer: $900/month"
    assert result.value.constraints.region == "eu-west-1"
    assert fake.requests[0].inputs() == {"request": CHURN, "answers": {"budget": "$900/month"}}


def test_parse_answer_stays_offline() -> None:
    fake = af.FakeAnthropic()
    provider = make_provider(fake)
    assert provider.parse_answer("budget", "$1,500/month") == OFFLINE.parse_answer(
        "budget", "$1,500/month"
    )
    assert fake.calls == 0


def test_every_method_answers_through_its_tool(constraints) -> None:
    # Given a model that answers every tool like the offline provider would
    fake = af.FakeAnthropic(responder=af.offline_responder(PRIMARY))
    provider = make_provider(fake)

    # When every orchestration method is called
    plan = provider.plan(constraints).value
    from agentic_mlops.pricing import estimate

    priced = estimate(plan, constraints)
    results = [
        provider.extract_constraints(CHURN, {}),
        provider.ask_questions(constraints, ["budget"]),
        provider.critique_technical(constraints, plan),
        provider.critique_cost(constraints, plan, priced),
        provider.interpret_feedback("use spot instances for training", constraints),
    ]

    # Then each went through its own tool and pack, and matches the offline reasoning
    assert [r.tool for r in fake.requests] == [
        "record_plan",
        "record_extract_constraints",
        "record_ask_questions",
        "record_critique_technical",
        "record_critique_cost",
        "record_interpret_feedback",
    ]
    assert [r.metadata.few_shot_pack for r in results] == [
        "extract_constraints@v1",
        "ask_questions@v1",
        "critique_technical@v1",
        "critique_cost@v1",
        "interpret_feedback@v1",
    ]
    assert results[4].value[0].use_spot_training is True
    assert results[3].value == OFFLINE.critique_cost(constraints, plan, priced).value


def test_an_explicit_choice_without_credentials_falls_back_to_offline(
    constraints, monkeypatch, tmp_path
) -> None:
    # Given AGENTIC_MLOPS_PROVIDER=anthropic, no key, and no SDK profile to find
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "anthropic"))
    for name in ("ANTHROPIC_PROFILE", "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    fake = af.FakeAnthropic()
    settings = provider_settings({"AGENTIC_MLOPS_PROVIDER": "anthropic"})
    provider = AnthropicProvider(settings, http_client=fake.http_client())

    # When the provider plans
    result = provider.plan(constraints)

    # Then nothing was sent and the offline provider answered, saying the client had no key
    # (the SDK either finds nothing, or fails to read a default profile from the empty folder)
    assert fake.calls == 0
    assert result.metadata.provider == "offline"
    assert "unavailable: anthropic client unavailable: " in result.metadata.fallback_reason
