"""The Step Functions definition (statemachines/mlops_workflow.asl.json) against the registry.

The definition is validated by ``scripts/statelint`` and then read as data: its node Tasks
must be the registry's nodes, walked in the registry's order, with the graph's routing; every
Lambda Task retries and catches; ARNs and timeouts come only from documented placeholders.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph import END, START

from agentic_mlops.workflow.graph import build_graph
from agentic_mlops.workflow.registry import (
    DELIVERY_NODES,
    INTAKE_NODES,
    MAIN_NODES,
    NODE_ORDER,
    NODES,
    QUESTION_NODES,
)

ROOT = Path(__file__).resolve().parents[2]
DEFINITION_PATH = ROOT / "statemachines" / "mlops_workflow.asl.json"
STATELINT = ROOT / "scripts" / "statelint"

PLACEHOLDERS = {
    "NodeRunnerFunctionArn",
    "WaitRegistrarFunctionArn",
    "FailureHandlerFunctionArn",
    "QuestionTimeoutSeconds",
    "ApprovalTimeoutSeconds",
}
"""The definition substitutions the CDK stack must provide (all strings)."""
TIMEOUT_PLACEHOLDER = {"question": "QuestionTimeoutSeconds", "approval": "ApprovalTimeoutSeconds"}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken"
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
RECORD_FAILURE = "RecordFailure"
CATCHING_TYPES = {"Task", "Parallel", "Map"}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(DEFINITION_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return definition["States"]


# helpers --------------------------------------------------------------------------------


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """The value at a simple reference path such as ``$.last.decision``."""
    value: Any = document
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def choose(state: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """Evaluate a Choice state on ``data`` (only the comparisons the definition uses)."""
    for rule in state["Choices"]:
        value = get_path(data, rule["Variable"])
        if "BooleanEquals" in rule:
            matched = isinstance(value, bool) and value == rule["BooleanEquals"]
        elif "StringEquals" in rule:
            matched = value == rule["StringEquals"]
        else:
            pytest.fail(f"the walker does not know the choice rule {rule}")
        if matched:
            return rule["Next"]
    return state["Default"]


def run_task(state: Mapping[str, Any], name: str, data: dict[str, Any], extra: Mapping) -> None:
    """Apply a node Task's ResultSelector/ResultPath to a node_runner answer."""
    if state.get("ResultPath", "$") is None:
        return
    payload = {
        "decision_set_id": data["decision_set_id"],
        "node": name,
        "status": "succeeded",
        "route": None,  # node_runner's route is None after an unconditional node
    }
    response = {"StatusCode": 200, "Payload": {**payload, "next": "?", **extra}}
    selected = {
        k.removesuffix(".$"): get_path(response, v) for k, v in state["ResultSelector"].items()
    }
    assert state["ResultPath"] == "$.last"
    data["last"] = selected


def walk(definition: Mapping[str, Any], answers: Mapping[str, Iterable[Mapping]]) -> list[str]:
    """The states entered from StartAt to a terminal state.

    ``answers`` scripts the extra fields node_runner returns, per node and in call order.
    """
    states = definition["States"]
    scripted = {node: iter(values) for node, values in answers.items()}
    data: dict[str, Any] = {"decision_set_id": "ds-1"}
    entered: list[str] = []
    name = definition["StartAt"]
    while states[name]["Type"] not in {"Succeed", "Fail"}:
        entered.append(name)
        assert len(entered) < 200, f"no terminal state reached: {entered}"
        state = states[name]
        if state["Type"] == "Choice":
            name = choose(state, data)
            continue
        if state["Type"] == "Task" and name in NODE_ORDER:
            run_task(state, name, data, next(scripted.get(name, iter(())), {}))
        name = state["Next"]
    return [*entered, name]


def node_tasks(states: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [n for n in states if states[n]["Type"] == "Task" and n != RECORD_FAILURE]


def failure_path(states: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """RecordFailure and every state reachable from it."""
    found, todo = set(), [RECORD_FAILURE]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        state = states[name]
        todo += [c["Next"] for c in state.get("Catch", [])]
        todo += [state["Next"]] if "Next" in state else []
    return found


def next_nodes(states: Mapping[str, Mapping[str, Any]], start: str) -> Iterator[str]:
    """The node Tasks (or END) reached from ``start`` through Choice/Pass/Succeed states,
    leaving out the failure path."""
    state = states[start]
    if start == RECORD_FAILURE:
        return
    if state["Type"] == "Task":
        yield start
    elif state["Type"] == "Succeed":
        yield END
    elif state["Type"] == "Choice":
        for target in [rule["Next"] for rule in state["Choices"]] + [state["Default"]]:
            yield from next_nodes(states, target)
    elif state["Type"] == "Pass":
        yield from next_nodes(states, state["Next"])


def lambda_tasks(states: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [n for n, s in states.items() if s.get("Resource", "").startswith(LAMBDA_INVOKE)]


def run_statelint(*files: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: scripts/statelint installs @wmfs/statelint with npm")
    return subprocess.run(
        [str(STATELINT), *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


# validation -----------------------------------------------------------------------------


def test_statelint_accepts_every_definition() -> None:
    # Given the definitions in statemachines/
    # When scripts/statelint validates them (placeholders substituted as CDK would)
    result = run_statelint()

    # Then every one is valid
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"statemachines/{DEFINITION_PATH.name} OK" in result.stdout


def test_statelint_fails_on_an_invalid_definition(definition: dict, tmp_path: Path) -> None:
    # Given a copy of the definition with an unknown JitterStrategy
    broken = json.loads(json.dumps(definition))
    broken["States"][NODE_ORDER[0]]["Retry"][0]["JitterStrategy"] = "SOMETIMES"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken), encoding="utf-8")

    # When scripts/statelint validates it
    result = run_statelint(path)

    # Then it exits non-zero and names the field
    assert result.returncode != 0
    assert "JitterStrategy" in result.stderr


# nodes and order ------------------------------------------------------------------------


def test_happy_path_with_one_question_round_walks_the_registry_in_order(definition: dict) -> None:
    # Given answers where coverage is incomplete once, then complete, and the plan approved
    answers = {
        "coverage_check": [{"coverage_complete": False}, {"coverage_complete": True}],
        "process_approval_feedback": [{"decision": "approved"}],
    }

    # When the definition is walked
    entered = walk(definition, answers)
    tasks = [name for name in entered if name in NODE_ORDER]

    # Then the node Tasks come in registry order, the intake loop going back to extraction
    # once, and the run ends in a Succeed state after the last delivery node
    assert list(dict.fromkeys(tasks)) == list(NODE_ORDER)
    back_to_extraction = [n for n in INTAKE_NODES if n not in QUESTION_NODES]
    assert tasks == [*INTAKE_NODES, *back_to_extraction, *MAIN_NODES, *DELIVERY_NODES]
    assert definition["States"][entered[-1]]["Type"] == "Succeed"


def test_complete_coverage_goes_straight_to_planning(definition: dict) -> None:
    # Given a request whose coverage is complete at once, and an approved plan
    answers = {
        "coverage_check": [{"coverage_complete": True}],
        "process_approval_feedback": [{"decision": "approved"}],
    }

    # When the definition is walked
    tasks = [name for name in walk(definition, answers) if name in NODE_ORDER]

    # Then no question is asked
    assert tasks == [n for n in NODE_ORDER if n not in QUESTION_NODES]


def test_rejection_ends_in_the_rejected_succeed_state(definition: dict) -> None:
    # Given a rejected plan
    answers = {
        "coverage_check": [{"coverage_complete": True}],
        "process_approval_feedback": [{"decision": "rejected"}],
    }

    # When the definition is walked
    entered = walk(definition, answers)

    # Then nothing is delivered and the run ends in "Rejected", a Succeed state
    assert set(entered).isdisjoint(DELIVERY_NODES)
    assert entered[-1] == "Rejected"
    assert definition["States"]["Rejected"]["Type"] == "Succeed"


def test_an_approval_comment_that_changes_constraints_replans_before_delivery(
    definition: dict,
) -> None:
    # Given an approval whose comment changed the constraints, and a re-made plan that
    # fails a check, so the approver decides again (and approves)
    answers = {
        "coverage_check": [{"coverage_complete": True}],
        "policy_eval": [{"route": "gate"}, {"route": "gate"}],
        "process_approval_feedback": [{"decision": "replan"}, {"decision": "approved"}],
    }

    # When the definition is walked
    tasks = [name for name in walk(definition, answers) if name in NODE_ORDER]

    # Then planning runs twice, the gate is entered twice, and delivery follows once
    intake = [n for n in INTAKE_NODES if n not in QUESTION_NODES]
    assert tasks == [*intake, *MAIN_NODES, *MAIN_NODES, *DELIVERY_NODES]


def test_a_replanned_plan_that_passes_goes_straight_to_delivery(definition: dict) -> None:
    # Given an approval comment that changed the constraints, and a re-made plan that
    # still passes policy and budget
    answers = {
        "coverage_check": [{"coverage_complete": True}],
        "policy_eval": [{"route": "gate"}, {"route": "deliver"}],
        "process_approval_feedback": [{"decision": "replan"}],
    }

    # When the definition is walked
    tasks = [name for name in walk(definition, answers) if name in NODE_ORDER]

    # Then planning runs again and code generation follows without a second gate
    intake = [n for n in INTAKE_NODES if n not in QUESTION_NODES]
    planning = [n for n in MAIN_NODES if n not in ("gate_hitl", "process_approval_feedback")]
    assert tasks == [*intake, *MAIN_NODES, *planning, *DELIVERY_NODES]


def test_an_unknown_decision_is_recorded_as_a_failure(definition: dict) -> None:
    # Given a decision that is neither approved nor rejected
    answers = {
        "coverage_check": [{"coverage_complete": True}],
        "process_approval_feedback": [{"decision": "maybe"}],
    }

    # When the definition is walked
    entered = walk(definition, answers)

    # Then the run goes through RecordFailure to a Fail state
    assert RECORD_FAILURE in entered
    assert definition["States"][entered[-1]]["Type"] == "Fail"


def test_node_transitions_are_the_langgraph_graph_edges(definition: dict, states: dict) -> None:
    # Given the LangGraph graph built from the registry
    graph_edges = {(e.source, e.target) for e in build_graph().get_graph().edges}
    start = definition["StartAt"]

    # When the definition's node-to-node transitions are followed through Choice, Pass and
    # Succeed states (the failure path left out)
    found = {(START, target) for target in next_nodes(states, start)}
    for name in node_tasks(states):
        found |= {(name, target) for target in next_nodes(states, states[name]["Next"])}

    # Then they are exactly the graph's edges
    assert found == graph_edges


def test_every_registry_node_is_exactly_one_task_named_after_it(states: dict) -> None:
    # Given the Task states other than RecordFailure
    tasks = node_tasks(states)

    # When their names and payloads are read
    # Then each registry node is one Task, named after the node it runs
    assert sorted(tasks) == sorted(NODE_ORDER)
    for name in tasks:
        assert states[name]["Parameters"]["Payload"]["node"] == name


def test_wait_tasks_are_the_registry_gates_with_their_kind(states: dict) -> None:
    # Given the registry's waiting nodes
    waits = {spec.name: spec.waits_for for spec in NODES if spec.waits_for}

    # When the definition's task-token Tasks are listed
    token_tasks = {n for n in node_tasks(states) if states[n]["Resource"] == WAIT_FOR_TOKEN}

    # Then they are exactly those nodes, registering the token with the wait registrar
    assert token_tasks == set(waits)
    for name, kind in waits.items():
        parameters = states[name]["Parameters"]
        assert parameters["FunctionName"] == "${WaitRegistrarFunctionArn}"
        assert parameters["Payload"] == {
            "decision_set_id.$": "$.decision_set_id",
            "node": name,
            "kind": kind,
            "task_token.$": "$$.Task.Token",
        }


def test_wait_timeouts_come_from_the_documented_placeholders(states: dict) -> None:
    # Given the waiting nodes and the settings built by the first state
    settings = states["LoadSettings"]["Parameters"]["settings"]

    for spec in (s for s in NODES if s.waits_for):
        # When the wait's timeout path is followed to the settings
        timeout_path = states[spec.name]["TimeoutSecondsPath"]
        field = timeout_path.removeprefix("$.settings.")

        # Then it reads the number made from the kind's placeholder, and a timeout is
        # recorded as a failure with the error info
        placeholder = TIMEOUT_PLACEHOLDER[spec.waits_for]
        assert settings[f"{field}.$"] == f"States.StringToJson('${{{placeholder}}}')"
        first_catch = states[spec.name]["Catch"][0]
        assert first_catch["ErrorEquals"] == ["States.Timeout"]
        assert (first_catch["Next"], first_catch["ResultPath"]) == (RECORD_FAILURE, "$.error")


def test_node_runner_tasks_keep_the_state_small(states: dict) -> None:
    # Given the node Tasks that do not wait
    runners = [n for n in node_tasks(states) if states[n]["Resource"] == LAMBDA_INVOKE]

    # When their parameters and result handling are read
    # Then each calls the node runner with ids only and keeps a few result fields in $.last;
    # the waits discard the token's output (the answer is in PostgreSQL)
    assert set(runners) == {s.name for s in NODES if not s.waits_for}
    for name in runners:
        state = states[name]
        assert state["Parameters"]["FunctionName"] == "${NodeRunnerFunctionArn}"
        assert state["Parameters"]["Payload"] == {
            "decision_set_id.$": "$.decision_set_id",
            "node": name,
            "execution_id.$": "$$.Execution.Id",
        }
        assert state["ResultPath"] == "$.last"
        assert all(p.startswith("$.Payload.") for p in state["ResultSelector"].values())
        assert len(state["ResultSelector"]) <= 3
    for spec in (s for s in NODES if s.waits_for):
        assert states[spec.name]["ResultPath"] is None


# retries and failures -------------------------------------------------------------------


def test_every_lambda_task_retries_lambda_errors_and_provider_outages(states: dict) -> None:
    # Given every Task that invokes a Lambda function
    tasks = lambda_tasks(states)
    assert set(NODE_ORDER) | {RECORD_FAILURE} <= set(tasks)

    for name in tasks:
        # When its retriers are read
        retriers = states[name]["Retry"]
        lambda_retrier = next(r for r in retriers if set(r["ErrorEquals"]) >= LAMBDA_ERRORS)
        provider_retrier = next(r for r in retriers if "ProviderUnavailable" in r["ErrorEquals"])

        # Then the Lambda errors back off from 2 s, six times, doubling, with full jitter,
        # and a provider outage has a backoff of its own
        assert {k: lambda_retrier[k] for k in lambda_retrier if k != "ErrorEquals"} == {
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }, name
        assert provider_retrier is not lambda_retrier
        assert provider_retrier["BackoffRate"] > 1
        assert provider_retrier["JitterStrategy"] == "FULL"


def test_every_state_outside_the_failure_path_catches_to_record_failure(states: dict) -> None:
    # Given the states outside RecordFailure's path
    on_failure_path = failure_path(states)
    catching = [n for n, s in states.items() if s["Type"] in CATCHING_TYPES]

    for name in catching:
        if name in on_failure_path:
            continue
        # When its catchers are read
        last = states[name]["Catch"][-1]

        # Then every error goes to RecordFailure with the error info in $.error
        assert last == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": RECORD_FAILURE,
        }
        assert all(c["Next"] == RECORD_FAILURE for c in states[name]["Catch"]), name

    # The other non-terminal states cannot raise a catchable error; Choices always have a
    # Default (no States.NoChoiceMatched)
    others = {s["Type"] for n, s in states.items() if n not in catching}
    assert others <= {"Pass", "Choice", "Succeed", "Fail"}
    assert all("Default" in s for s in states.values() if s["Type"] == "Choice")


def test_record_failure_calls_the_failure_handler_then_fails(states: dict) -> None:
    # Given RecordFailure
    state = states[RECORD_FAILURE]

    # When its call and its successors are read
    # Then it hands the failure handler the ids and the error, and every way out ends in Fail
    assert state["Parameters"] == {
        "FunctionName": "${FailureHandlerFunctionArn}",
        "Payload": {
            "decision_set_id.$": "$.decision_set_id",
            "execution_id.$": "$$.Execution.Id",
            "error.$": "$.error",
        },
    }
    exits = {state["Next"], *(c["Next"] for c in state["Catch"])}
    assert {states[n]["Type"] for n in exits} == {"Fail"}


# placeholders and ARNs ------------------------------------------------------------------


def test_only_the_documented_placeholders_are_used() -> None:
    # Given the definition's text
    text = DEFINITION_PATH.read_text(encoding="utf-8")

    # When its ${...} placeholders are listed
    found = set(re.findall(r"\$\{([^}]*)\}", text))

    # Then they are exactly the documented ones, each named in the definition's Comment
    assert found == PLACEHOLDERS
    comment = json.loads(text)["Comment"]
    assert all(name in comment for name in PLACEHOLDERS)


def test_function_arns_come_only_from_placeholders(states: dict) -> None:
    # Given every Lambda Task
    # When the function it invokes is read
    # Then it is a whole ${...FunctionArn} placeholder
    for name in lambda_tasks(states):
        function = states[name]["Parameters"]["FunctionName"]
        assert re.fullmatch(r"\$\{[A-Za-z]+FunctionArn\}", function), (name, function)


def test_definition_contains_no_literal_arn(states: dict) -> None:
    # Given the definition's text
    text = DEFINITION_PATH.read_text(encoding="utf-8")

    # When the ARN-looking strings are listed
    arns = re.findall(r"arn:[^\"\s]*", text)

    # Then the only ones are the account-free service-integration Resources, and no account
    # id appears anywhere
    resources = [s["Resource"] for s in states.values() if "Resource" in s]
    assert sorted(arns) == sorted(resources)
    assert set(resources) <= {LAMBDA_INVOKE, WAIT_FOR_TOKEN}
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)


def test_transitions_name_existing_states(states: dict) -> None:
    # Given every transition of the definition
    targets = [s["Next"] for s in states.values() if "Next" in s]
    targets += [c["Next"] for s in states.values() for c in s.get("Catch", [])]
    targets += [r["Next"] for s in states.values() for r in s.get("Choices", [])]
    targets += [s["Default"] for s in states.values() if "Default" in s]

    # When each target is looked up
    # Then it exists (statelint checks this too; this keeps the failure readable offline)
    assert set(targets) <= set(states)
