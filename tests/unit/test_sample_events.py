"""The sample events in events/<function>/*.json (used by scripts/invoke) are what the state
machine sends: each validates against its function's event model, names a registry node of
the right kind, and has exactly the keys and fixed values of the ASL state's Payload."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentic_mlops.engines.stepfunctions import execution_name
from agentic_mlops.tasks import FailureTask, NodeTask, WaitTask
from agentic_mlops.workflow.registry import NODE_ORDER, spec

ROOT = Path(__file__).parents[2]
EVENTS = ROOT / "events"
DEFINITION = json.loads((ROOT / "statemachines" / "mlops_workflow.asl.json").read_text())
MODELS: dict[str, type[BaseModel]] = {
    "node_runner": NodeTask,
    "wait_registrar": WaitTask,
    "failure_handler": FailureTask,
}
ARN_PLACEHOLDERS = {
    "node_runner": "${NodeRunnerFunctionArn}",
    "wait_registrar": "${WaitRegistrarFunctionArn}",
    "failure_handler": "${FailureHandlerFunctionArn}",
}
SAMPLE_ID = "ds-000000000000"
EXECUTION_ARN = re.compile(
    r"arn:aws:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]+:(?P<name>.+)"
)
# The workflow functions' samples (the API, WebSocket and Slack ones are exercised by
# their own tests: tests/integration/test_api_server.py, tests/unit/test_slack.py).
SAMPLES = sorted(p for p in EVENTS.glob("*/*.json") if p.parent.name in MODELS)


def _event(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _state_for(function: str, event: dict[str, Any]) -> dict[str, Any]:
    """The ASL Task state that sends this event (named after its node; RecordFailure)."""
    name = "RecordFailure" if function == "failure_handler" else event["node"]
    return DEFINITION["States"][name]


def test_every_function_has_sample_events_and_every_folder_is_a_function() -> None:
    functions = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    assert {p.parent.name for p in EVENTS.glob("*/*.json")} == functions
    assert {p.parent.name for p in SAMPLES} == set(MODELS) <= functions


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_sample_event_validates_against_its_function_event_model(path: Path) -> None:
    event = _event(path)
    task = MODELS[path.parent.name].model_validate(event)
    assert task.decision_set_id == SAMPLE_ID
    assert set(event) <= set(type(task).model_fields), "a key the model does not know"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_sample_event_has_the_keys_and_fixed_values_of_its_asl_payload(path: Path) -> None:
    function, event = path.parent.name, _event(path)
    state = _state_for(function, event)
    parameters = state["Parameters"]
    payload = parameters["Payload"]

    assert parameters["FunctionName"] == ARN_PLACEHOLDERS[function]
    assert set(event) == {key.removesuffix(".$") for key in payload}
    fixed = {key: value for key, value in payload.items() if not key.endswith(".$")}
    assert {key: event[key] for key in fixed} == fixed
    if "execution_id" in event:  # $$.Execution.Id: the execution is named after the set
        match = EXECUTION_ARN.fullmatch(event["execution_id"])
        assert match and match["name"] == execution_name(event["decision_set_id"])


@pytest.mark.parametrize(
    "path",
    [p for p in SAMPLES if p.parent.name in {"node_runner", "wait_registrar"}],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_a_node_event_names_a_registry_node_of_its_kind(path: Path) -> None:
    event = _event(path)
    assert event["node"] in NODE_ORDER
    waits_for = spec(event["node"]).waits_for
    if path.parent.name == "wait_registrar":
        assert waits_for is not None and waits_for == event["kind"]
    else:
        assert waits_for is None, "gate nodes are run by the wait registrar"


@pytest.mark.parametrize(
    "path", sorted((EVENTS / "failure_handler").glob("*.json")), ids=lambda p: p.name
)
def test_a_failure_event_carries_a_step_functions_error(path: Path) -> None:
    error = FailureTask.model_validate(_event(path)).error
    assert set(error) == {"Error", "Cause"}
    assert all(isinstance(value, str) and value for value in error.values())


def test_the_sample_errors_are_a_timeout_and_an_exhausted_retry() -> None:
    errors = {
        p.stem: _event(p)["error"]["Error"] for p in (EVENTS / "failure_handler").glob("*.json")
    }
    retried = {
        error
        for retry in DEFINITION["States"]["planner"]["Retry"]
        for error in retry["ErrorEquals"]
    }
    assert errors["states_timeout"] == "States.Timeout"
    assert errors["provider_unavailable"] in retried
