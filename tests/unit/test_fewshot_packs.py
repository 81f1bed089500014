"""The few-shot pack registry: versioned files, content-addressed ids, on every Reason Card."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic_fake as af
import pytest
from fakes import FakeStore
from langgraph.runtime import Runtime

from agentic_mlops.canonical import canonical_json_hash
from agentic_mlops.domain import MLOpsProjectState, ReasonCard
from agentic_mlops.errors import InvalidInput
from agentic_mlops.providers import create_provider, resilience
from agentic_mlops.providers.answers import ANSWERS
from agentic_mlops.providers.anthropic_provider import AnthropicProvider
from agentic_mlops.providers.fewshot import PackRegistry
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.settings import provider_settings
from agentic_mlops.workflow import nodes
from agentic_mlops.workflow.instrument import RunContext, instrument

PACKS = Path(__file__).parents[2] / "shared" / "agentic_mlops" / "providers" / "packs"
GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    resilience.reset_breakers()
    yield
    resilience.reset_breakers()


def test_every_method_has_a_pack_whose_examples_validate_against_its_answer_model() -> None:
    registry = PackRegistry()
    assert registry.names() == sorted(ANSWERS)
    for name in registry.names():
        pack = registry.get(name)
        assert (pack.name, pack.version) == (name, 1)
        assert pack.examples, f"{name} has no example"
        for example in pack.examples:
            answer = ANSWERS[name].model_validate(example.output)
            assert answer.problems(example.input) == [], (name, example.title)


def test_a_pack_id_is_the_sha256_of_its_canonical_content(tmp_path: Path) -> None:
    # Given a copy of the packs and the id of the plan pack
    root = tmp_path / "packs"
    shutil.copytree(PACKS, root)
    path = root / "plan" / "v1.json"
    document = json.loads(path.read_text())
    original = PackRegistry(root).get("plan").id
    assert original == canonical_json_hash(document)

    # When the file is reformatted (indentation, key order), the id stays
    path.write_text(json.dumps(document, indent=None, sort_keys=True, separators=(", ", ": ")))
    assert PackRegistry(root).get("plan").id == original

    # When its content changes, the id changes
    document["instructions"].append("Prefer serverless services when the load is small.")
    path.write_text(json.dumps(document))
    assert PackRegistry(root).get("plan").id != original


def test_the_highest_version_is_used_and_bad_packs_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "packs"
    shutil.copytree(PACKS, root)
    document = json.loads((root / "plan" / "v1.json").read_text())
    (root / "plan" / "v2.json").write_text(json.dumps({**document, "version": 2}))
    (root / "plan" / "notes.json").write_text("{}")
    assert PackRegistry(root).get("plan").ref == "plan@v2"

    (root / "plan" / "v3.json").write_text(json.dumps({**document, "version": 2}))
    with pytest.raises(InvalidInput, match="declares plan@v2"):
        PackRegistry(root).get("plan")
    (root / "plan" / "v3.json").write_text("{not json")
    with pytest.raises(InvalidInput, match=r"plan/v3\.json is not valid"):
        PackRegistry(root).get("plan")
    with pytest.raises(InvalidInput, match="no few-shot pack for 'unknown'"):
        PackRegistry(root).get("unknown")


# the pack hash on the Reason Card ------------------------------------------------------


def planner_card(pack_dir: Path) -> tuple[ReasonCard, bytes]:
    """Run the planner node with the Anthropic provider on the packs of ``pack_dir``."""
    offline = OfflineProvider()
    constraints = offline.extract_constraints(CHURN, {}).value.constraints
    state = MLOpsProjectState(
        decision_set_id="ds-pack", project_id="prj", request=CHURN, constraints=constraints
    )
    fake = af.FakeAnthropic(responder=af.offline_responder())
    env = {"ANTHROPIC_API_KEY": "sk-test", "AGENTIC_MLOPS_PACK_DIR": str(pack_dir)}
    assert isinstance(create_provider(provider_settings(env)), AnthropicProvider)
    provider = AnthropicProvider(provider_settings(env), http_client=fake.http_client())
    store = FakeStore()
    runtime: Any = Runtime(context=RunContext(store=store, provider=provider), stream_writer=print)
    instrument("planner", nodes.planner)(state, {"configurable": {"thread_id": "ds-pack"}}, runtime)
    (event,) = store.events["ds-pack"]
    return ReasonCard.model_validate(event.payload), fake.requests[0].body


def test_the_card_pack_hash_changes_when_the_pack_changes_and_only_then(tmp_path: Path) -> None:
    # Given a copy of the packs, chosen through AGENTIC_MLOPS_PACK_DIR
    root = tmp_path / "packs"
    shutil.copytree(PACKS, root)
    path = root / "plan" / "v1.json"
    document = json.loads(path.read_text())

    # When the planner runs, its card carries the plan pack's id
    card, request = planner_card(root)
    assert card.provider == "anthropic"
    assert card.few_shot_pack == "plan@v1"
    assert card.few_shot_pack_hash == canonical_json_hash(document)

    # When only the file's formatting changes, the card and the request stay the same
    path.write_text(json.dumps(document, sort_keys=True, indent=4))
    same_card, same_request = planner_card(root)
    assert same_card.few_shot_pack_hash == card.few_shot_pack_hash
    assert same_card.prompt_digest == card.prompt_digest
    assert same_request == request

    # When an example changes, the card's hash, the digest and the request change
    document["examples"][0]["title"] = "weekly batch forecasting, eu-west-1"
    path.write_text(json.dumps(document))
    changed_card, changed_request = planner_card(root)
    assert changed_card.few_shot_pack_hash == canonical_json_hash(document)
    assert changed_card.few_shot_pack_hash != card.few_shot_pack_hash
    assert changed_card.prompt_digest != card.prompt_digest
    assert changed_request != request
