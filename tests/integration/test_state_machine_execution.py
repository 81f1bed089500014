"""The real state machine definition, executed by moto's ASL interpreter, with the
project's Lambda handlers dispatched in-process, against real PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from harness import Harness, step_functions_platform
from sfn_harness import LambdaServiceError, step_functions

from agentic_mlops.composition import container
from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.domain.identity import Identity
from agentic_mlops.engines.stepfunctions import send_task_success
from agentic_mlops.errors import AlreadyDecided, Conflict, NotFound, ProviderUnavailable
from agentic_mlops.persistence import Database
from agentic_mlops.providers.offline import OfflineProvider
from agentic_mlops.workflow.registry import NODE_ORDER

ROOT = Path(__file__).parents[2]
DEFINITION = (ROOT / "statemachines" / "mlops_workflow.asl.json").read_text()
GOLDEN = json.loads((ROOT / "tests" / "golden" / "workloads.json").read_text())
CHURN = GOLDEN["batch_tabular"]["request"]
CHURN_WITHOUT_BUDGET = CHURN.replace(" under $1,500/month,", "")
APPROVE = ApprovalDecision(decision="approve", comment=None, approver="alice")


def _load_handler(function: str) -> Callable[[dict[str, Any], Any], Any]:
    path = ROOT / "functions" / function / "app.py"
    module_spec = importlib.util.spec_from_file_location(f"functions_{function}_app", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.handler


HANDLERS = {
    name: _load_handler(name) for name in ("node_runner", "wait_registrar", "failure_handler")
}


class Faults:
    """Lambda-level faults to inject, once each, around the real handlers."""

    def __init__(self) -> None:
        self.before: set[str] = set()  # fail before the handler runs (no side effect)
        self.after: set[str] = set()  # fail after the node ran (the response is lost)
        self.calls: list[str] = []

    def wrap(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[..., Any]:
        def faulty(event: dict[str, Any], context: Any) -> Any:
            node = event.get("node", "")
            self.calls.append(node)
            if node in self.before:
                self.before.discard(node)
                raise LambdaServiceError("the Lambda service failed")
            result = handler(event, context)
            if node in self.after:
                self.after.discard(node)
                raise LambdaServiceError("the response was lost")
            return result

        return faulty


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def cloud(database: Database, database_url: str, faults: Faults, monkeypatch) -> Iterator[Any]:
    """moto Step Functions running the real definition with our handlers in-process."""
    container.reset()
    handlers = {
        "NodeRunner": faults.wrap(HANDLERS["node_runner"]),
        "WaitRegistrar": faults.wrap(HANDLERS["wait_registrar"]),
        "FailureHandler": faults.wrap(HANDLERS["failure_handler"]),
    }
    with step_functions(handlers) as sfn:

        def machine(question_timeout: int = 300, approval_timeout: int = 300) -> str:
            return sfn.create_state_machine(
                DEFINITION,
                {
                    "NodeRunnerFunctionArn": sfn.function_arn("NodeRunner"),
                    "WaitRegistrarFunctionArn": sfn.function_arn("WaitRegistrar"),
                    "FailureHandlerFunctionArn": sfn.function_arn("FailureHandler"),
                    "QuestionTimeoutSeconds": str(question_timeout),
                    "ApprovalTimeoutSeconds": str(approval_timeout),
                },
            )

        sfn.machine = machine
        yield sfn
    container.reset()


def engine_for(sfn: Any, database: Database, arn: str, provider: Any = None) -> Harness:
    return step_functions_platform(database, sfn.client, arn, provider)


def wait_for_status(database: Database, ds_id: str, statuses: set[str], timeout_s=60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = database.store.get_decision_set(ds_id).status
        if status in statuses:
            return status
        time.sleep(0.05)
    raise TimeoutError(f"{ds_id} did not reach {statuses} (last: {status})")


def task_states(sfn: Any, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in sfn.history(execution_arn)
        if e["type"] == "TaskStateEntered"
    ]


def execution_arn_of(sfn: Any, arn: str, ds_id: str) -> str:
    return arn.replace(":stateMachine:", ":execution:") + f":{ds_id}"


def test_happy_path_with_one_question_and_an_approval(cloud, database: Database) -> None:
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)

    # Given a request without a budget, started on Step Functions
    started = engine.start("sfn-happy", CHURN_WITHOUT_BUDGET)
    ds_id = started.decision_set.id
    assert wait_for_status(database, ds_id, {"awaiting_input"}) == "awaiting_input"
    assert database.store.latest_wait(ds_id).kind == "question"

    # When the user answers and the approver approves
    engine.answer(ds_id, {"budget": "$1,500/month"}, by="bob")
    wait_for_status(database, ds_id, {"awaiting_approval"})
    engine.decide(ds_id, APPROVE)

    # Then the execution succeeds through delivery, in the registry's node order
    execution = cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=120)
    assert execution["status"] == "SUCCEEDED", execution
    final = engine.status(ds_id)
    assert final.status == "approved"
    assert final.state.commit is not None and final.state.validation.passed
    intake_round = [
        "extract_constraints",
        "coverage_check",
        "adaptive_questioner",
        "gate_user_input",
    ]
    assert task_states(cloud, execution["executionArn"]) == [
        *intake_round,
        *[n for n in NODE_ORDER if n not in {"adaptive_questioner", "gate_user_input"}],
    ]
    # the execution's payloads stay small: ids and flags, never the state
    assert len(execution.get("output", "")) < 2048
    assert all(r.executions == 1 for r in database.store.list_runs(ds_id))
    assert [
        e.payload["outcome"] for e in database.store.list_events(ds_id, event_type="run-complete")
    ] == ["approved"]


def test_rejection_ends_cleanly_and_generates_nothing(cloud, database: Database) -> None:
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start("sfn-reject", CHURN).decision_set.id
    wait_for_status(database, ds_id, {"awaiting_approval"})

    engine.decide(ds_id, ApprovalDecision(decision="reject", comment="no", approver="carol"))

    execution = cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=60)
    assert execution["status"] == "SUCCEEDED"
    assert engine.status(ds_id).status == "rejected"
    assert "codegen" not in task_states(cloud, execution["executionArn"])


def test_an_approval_timeout_fails_the_run_and_says_so(cloud, database: Database) -> None:
    arn = cloud.machine(approval_timeout=1)
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start("sfn-timeout", CHURN).decision_set.id

    execution = cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=60)

    assert execution["status"] == "FAILED"
    assert engine.status(ds_id).status == "failed"
    complete = database.store.list_events(ds_id, event_type="run-complete")
    assert [e.payload["outcome"] for e in complete] == ["failed"]
    assert complete[0].payload["error"] == "timeout"
    assert "expired" in complete[0].payload["message"]

    # And an approval arriving after the timeout is refused and changes nothing
    with pytest.raises(Conflict, match="not awaiting approval"):
        engine.decide(ds_id, APPROVE)
    assert database.store.latest_wait(ds_id).status == "expired"
    assert engine.status(ds_id).status == "failed"


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_lambda_failure_is_retried_and_side_effects_happen_once(
    cloud, database: Database, faults: Faults, where: str
) -> None:
    # Given the planner's Lambda failing once: before running ("before") or after the
    # node ran but before its response reached Step Functions ("after")
    getattr(faults, where).add("planner")
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start(f"sfn-retry-{where}", CHURN).decision_set.id

    # When the Retry runs it again
    wait_for_status(database, ds_id, {"awaiting_approval"})

    # Then the planner was invoked twice but executed once; its events were stored once
    assert faults.calls.count("planner") == 2
    runs = {r.node: r.executions for r in database.store.list_runs(ds_id)}
    assert runs["planner"] == 1
    cards = [e.payload["node"] for e in database.store.list_events(ds_id, event_type="reason-card")]
    assert cards.count("planner") == 1
    engine.decide(ds_id, ApprovalDecision(decision="reject", comment=None, approver="t"))
    assert cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=60)["status"] == "SUCCEEDED"


def test_a_duplicate_approval_is_harmless_and_reported(cloud, database: Database) -> None:
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start("sfn-duplicate", CHURN).decision_set.id
    wait_for_status(database, ds_id, {"awaiting_approval"})
    engine.decide(ds_id, ApprovalDecision(decision="reject", comment=None, approver="dan"))

    with pytest.raises(AlreadyDecided, match="already rejected"):
        engine.decide(ds_id, APPROVE)

    assert cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=60)["status"] == "SUCCEEDED"
    assert engine.status(ds_id).status == "rejected"


def test_an_unknown_token_is_a_clear_error_and_changes_nothing(cloud, database: Database) -> None:
    before = len(database.store.list_decision_sets())
    with pytest.raises(NotFound, match="no execution is waiting"):
        send_task_success(cloud.client, "not-a-token", {"decision_set_id": "ds-x"})
    assert len(database.store.list_decision_sets()) == before


def test_a_used_token_answered_task_timed_out_by_aws_is_reported_as_already_decided() -> None:
    # moto answers InvalidToken for used tokens; real AWS answers TaskTimedOut: stub it
    import boto3

    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_task_success", service_error_code="TaskTimedOut", http_status_code=400
        )
        with pytest.raises(AlreadyDecided, match="already decided"):
            send_task_success(client, "used-token", {"decision_set_id": "ds-x"})


def test_starting_the_same_decision_set_twice_is_idempotent(cloud, database: Database) -> None:
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start("sfn-idempotent", CHURN).decision_set.id
    first = execution_arn_of(cloud, arn, ds_id)

    assert engine.engine.execute(ds_id) == first
    wait_for_status(database, ds_id, {"awaiting_approval"})
    executions = cloud.client.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions].count(ds_id) == 1
    engine.decide(ds_id, ApprovalDecision(decision="reject", comment=None, approver="t"))
    cloud.wait(first, timeout_s=60)


@pytest.mark.parametrize("name", list(GOLDEN))
def test_engine_parity_with_the_in_process_engine(cloud, database: Database, name: str) -> None:
    workload = GOLDEN[name]
    decision = ApprovalDecision(decision="approve", comment=workload["comment"], approver="p")
    local = Harness(database, OfflineProvider())
    paused = local.start(f"parity-local-{name}", workload["request"], workload["answers"])
    in_process = local.decide(paused.decision_set.id, decision).state

    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start(
        f"parity-sfn-{name}", workload["request"], workload["answers"]
    ).decision_set.id
    wait_for_status(database, ds_id, {"awaiting_approval"})
    engine.decide(ds_id, decision)
    assert cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=120)["status"] == "SUCCEEDED"
    on_step_functions = engine.status(ds_id).state

    assert on_step_functions.constraints == in_process.constraints
    assert on_step_functions.plan == in_process.plan
    assert on_step_functions.cost == in_process.cost
    assert on_step_functions.policy == in_process.policy
    assert on_step_functions.bundle.sha256 == in_process.bundle.sha256


class _FlakyPlanner(OfflineProvider):
    """An offline provider whose planner is unavailable on its first call."""

    def __init__(self) -> None:
        super().__init__()
        self.plan_calls = 0

    def plan(self, constraints):  # type: ignore[no-untyped-def]
        self.plan_calls += 1
        if self.plan_calls == 1:
            raise ProviderUnavailable("the model provider is overloaded")
        return super().plan(constraints)


def test_a_node_that_crashes_once_is_retried_and_its_side_effects_happen_once(
    cloud, database: Database, monkeypatch
) -> None:
    # Given the node runner's provider failing once with ProviderUnavailable inside planner
    provider = _FlakyPlanner()
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn, provider)
    ds_id = engine.start("sfn-node-crash", CHURN).decision_set.id

    # When the state machine's Retry on ProviderUnavailable runs the node again
    wait_for_status(database, ds_id, {"awaiting_approval", "failed"}, timeout_s=90)

    # Then the run reaches the gate; the planner ran twice, its events were stored once
    assert database.store.get_decision_set(ds_id).status == "awaiting_approval"
    assert provider.plan_calls == 2
    planner_run = next(r for r in database.store.list_runs(ds_id) if r.node == "planner")
    assert planner_run.status == "succeeded" and planner_run.executions == 2
    cards = [e.payload["node"] for e in database.store.list_events(ds_id, event_type="reason-card")]
    assert cards.count("planner") == 1
    engine.decide(ds_id, ApprovalDecision(decision="reject", comment=None, approver="t"))
    assert cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=60)["status"] == "SUCCEEDED"


def test_an_approval_recorded_before_the_task_token_arrives_is_applied_by_the_registrar(
    cloud, database: Database, monkeypatch
) -> None:
    # Given an approval decided in the instant between the gate opening its wait and the
    # wait registrar attaching the execution's task token
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    store = engine.platform.store
    attach = store.attach_task_token
    decided: list[Any] = []

    def decide_first(wait_id: str, task_token: str) -> None:
        ds_id = store.get_wait(wait_id).decision_set_id
        if store.get_wait(wait_id).kind == "approval" and not decided:
            decided.append(engine.decide(ds_id, APPROVE))  # no token yet: nothing to send
        attach(wait_id, task_token)

    monkeypatch.setattr(store, "attach_task_token", decide_first)

    # When the run reaches the approval gate
    ds_id = engine.start("sfn-early-approval", CHURN).decision_set.id
    execution = cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=120)

    # Then the decision was accepted at once and applied when the token arrived
    assert decided and decided[0].status == "awaiting_approval"
    assert execution["status"] == "SUCCEEDED"
    assert engine.status(ds_id).status == "approved"
    assert database.store.latest_wait(ds_id, "approval").decided_by == "alice"


def test_a_repeated_approval_on_step_functions_answers_from_the_record(
    cloud, database: Database
) -> None:
    arn = cloud.machine()
    engine = engine_for(cloud, database, arn)
    ds_id = engine.start("sfn-replay", CHURN).decision_set.id
    wait_for_status(database, ds_id, {"awaiting_approval"})
    identity = Identity.local("alice")
    first = engine.service.decide(identity, ds_id, "reject", "no")
    again = engine.service.decide(identity, ds_id, "reject", "no")
    assert first.replayed is False and again.replayed is True
    assert again.approval_id == first.approval_id
    assert cloud.wait(execution_arn_of(cloud, arn, ds_id), timeout_s=60)["status"] == "SUCCEEDED"
