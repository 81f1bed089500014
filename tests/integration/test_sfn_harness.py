"""The Step Functions harness runs real ASL in moto, dispatching Lambda tasks to Python handlers.

Each test pins one behaviour of moto's interpreter that the cloud engine relies on (or one
place where moto differs from AWS); see docs/step-functions-testing.md.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from integration.sfn_harness import LambdaServiceError, step_functions, wait_until

pytestmark = pytest.mark.timeout(60)

INVOKE = "arn:aws:states:::lambda:invoke"
INVOKE_WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"


class ProviderUnavailable(Exception):
    pass


def _invoke(function: str, **extra: Any) -> dict[str, Any]:
    """A Task calling a handler with the state input; the handler's return value is the output."""
    return {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": f"${{{function}}}", "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


def _wait_for_token(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": INVOKE_WAIT,
        "Parameters": {
            "FunctionName": f"${{{function}}}",
            "Payload": {"token.$": "$$.Task.Token", "input.$": "$"},
        },
        **extra,
    }


def _error_of(client_error: pytest.ExceptionInfo[ClientError]) -> str:
    return client_error.value.response["Error"]["Code"]


class TokenBox:
    """A handler that parks: stores the task token it is given, as a node runner would."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.tokens.append(event["token"])
        return {"parked": True}

    def token(self, index: int = 0) -> str:
        wait_until(lambda: len(self.tokens) > index, what=f"task token #{index}")
        return self.tokens[index]


def test_task_output_reaches_next_state() -> None:
    seen: list[Any] = []

    def double(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((context.function_name, context.get_remaining_time_in_millis() > 0))
        return {"doubled": event["n"] * 2}

    definition = {
        "StartAt": "Double",
        "States": {
            "Double": _invoke("Double", Next="Wrap"),
            "Wrap": {"Type": "Pass", "Parameters": {"result.$": "$.doubled"}, "End": True},
        },
    }
    with step_functions({"Double": double}) as sfn:
        arn = sfn.create_state_machine(definition, {"Double": sfn.function_arn("Double")})
        described = sfn.wait(sfn.start(arn, {"n": 21}))

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"result": 42}
    assert seen == [("Double", True)]


def test_bare_lambda_arn_resource_and_wait_state() -> None:
    definition = {
        "StartAt": "Echo",
        "States": {
            "Echo": {"Type": "Task", "Resource": "${Echo}", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 1, "End": True},
        },
    }
    with step_functions({"Echo": lambda event, context: {"echo": event}}) as sfn:
        arn = sfn.create_state_machine(definition, {"Echo": sfn.function_arn("Echo")})
        started = time.monotonic()
        execution = sfn.start(arn, {"x": 1})
        described = sfn.wait(execution)
        elapsed = time.monotonic() - started
        types = [event["type"] for event in sfn.history(execution)]

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"echo": {"x": 1}}  # the bare payload
    assert "LambdaFunctionSucceeded" in types and "WaitStateExited" in types
    assert elapsed >= 1.0


def test_retry_recovers_from_one_provider_failure() -> None:
    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if len(sfn.calls["Flaky"]) == 1:
            raise ProviderUnavailable("provider down")
        return {"ok": True}

    retry = [{"ErrorEquals": ["ProviderUnavailable"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    definition = {"StartAt": "Flaky", "States": {"Flaky": _invoke("Flaky", Retry=retry, End=True)}}
    with step_functions({"Flaky": flaky}) as sfn:
        arn = sfn.create_state_machine(definition, {"Flaky": sfn.function_arn("Flaky")})
        execution = sfn.start(arn, {})
        described = sfn.wait(execution)
        failed = [e for e in sfn.history(execution) if e["type"] == "TaskFailed"]

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"ok": True}
    assert len(sfn.calls["Flaky"]) == 2
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["ProviderUnavailable"]
    cause = json.loads(failed[0]["taskFailedEventDetails"]["cause"])
    assert cause["errorType"] == "ProviderUnavailable"
    assert cause["errorMessage"] == "provider down"


def test_always_failing_handler_goes_to_catch_and_fail_state() -> None:
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise ProviderUnavailable("still down")

    definition = {
        "StartAt": "Broken",
        "States": {
            "Broken": _invoke(
                "Broken",
                Retry=[
                    {"ErrorEquals": ["ProviderUnavailable"], "IntervalSeconds": 1, "MaxAttempts": 1}
                ],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record"}],
                End=True,
            ),
            "Record": {"Type": "Pass", "Next": "Failed"},
            "Failed": {"Type": "Fail", "Error": "NodeFailed", "Cause": "provider never recovered"},
        },
    }
    with step_functions({"Broken": broken}) as sfn:
        arn = sfn.create_state_machine(definition, {"Broken": sfn.function_arn("Broken")})
        execution = sfn.start(arn, {"run": "r1"})
        described = sfn.wait(execution)
        record = next(
            e
            for e in sfn.history(execution)
            if e.get("stateExitedEventDetails", {}).get("name") == "Record"
        )

    assert described["status"] == "FAILED"
    assert (described["error"], described["cause"]) == ("NodeFailed", "provider never recovered")
    assert len(sfn.calls["Broken"]) == 2  # first attempt + one retry, then Catch
    caught = json.loads(record["stateExitedEventDetails"]["output"])
    assert caught["run"] == "r1"
    assert caught["error"]["Error"] == "ProviderUnavailable"


def test_lambda_service_exception_is_a_catchable_error() -> None:
    def unavailable(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise LambdaServiceError("throttled upstream")

    definition = {
        "StartAt": "Call",
        "States": {
            "Call": _invoke(
                "Call",
                Catch=[
                    {
                        "ErrorEquals": ["Lambda.ServiceException"],
                        "ResultPath": "$.error",
                        "Next": "Fallback",
                    }
                ],
                End=True,
            ),
            "Fallback": {"Type": "Pass", "End": True},
        },
    }
    with step_functions({"Call": unavailable}) as sfn:
        arn = sfn.create_state_machine(definition, {"Call": sfn.function_arn("Call")})
        described = sfn.wait(sfn.start(arn, {}))

    assert described["status"] == "SUCCEEDED"
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "Lambda.ServiceException"
    assert "Status Code: 500" in error["Cause"]


@pytest.mark.parametrize(
    ("resource", "error"),
    [(INVOKE, "Lambda.TooManyRequestsException"), ("bare", "Exception")],
)
def test_invoke_api_errors_by_resource_kind(resource: str, error: str) -> None:
    def throttled(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise LambdaServiceError("slow down", code="TooManyRequestsException", status=429)

    with step_functions({"Call": throttled}) as sfn:
        if resource == "bare":  # a bare Lambda ARN resource names every ClientError "Exception"
            task = {"Type": "Task", "Resource": sfn.function_arn("Call"), "End": True}
        else:
            task = _invoke("Call", End=True)
        definition = {"StartAt": "Call", "States": {"Call": task}}
        arn = sfn.create_state_machine(definition, {"Call": sfn.function_arn("Call")})
        described = sfn.wait(sfn.start(arn, {}))

    assert (described["status"], described["error"]) == ("FAILED", error)


@pytest.mark.parametrize(("score", "branch"), [(0.9, "Approve"), (0.2, "AskQuestions")])
def test_choice_branches_on_handler_output(score: float, branch: str) -> None:
    definition = {
        "StartAt": "Score",
        "States": {
            "Score": _invoke("Score", Next="Enough"),
            "Enough": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.coverage", "NumericGreaterThanEquals": 0.8, "Next": "Approve"}
                ],
                "Default": "AskQuestions",
            },
            "Approve": {"Type": "Pass", "Result": {"branch": "Approve"}, "End": True},
            "AskQuestions": {"Type": "Pass", "Result": {"branch": "AskQuestions"}, "End": True},
        },
    }
    with step_functions({"Score": lambda event, context: {"coverage": event["score"]}}) as sfn:
        arn = sfn.create_state_machine(definition, {"Score": sfn.function_arn("Score")})
        described = sfn.wait(sfn.start(arn, {"score": score}))

    assert described["status"] == "SUCCEEDED"
    # An object: moto returns a bare *string* result unencoded (responses.py describe_execution).
    assert json.loads(described["output"]) == {"branch": branch}


def _approval_machine(**wait_extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "AwaitApproval",
        "States": {
            "AwaitApproval": _wait_for_token(
                "Park",
                ResultPath="$.decision",
                Catch=[
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NoDecision"}
                ],
                Next="Decided",
                **wait_extra,
            ),
            "Decided": {"Type": "Pass", "End": True},
            "NoDecision": {"Type": "Fail", "Error": "NoDecision"},
        },
    }


def test_wait_for_task_token_resumes_with_send_task_success_output() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {"run": "r1"})
        token = box.token()
        assert sfn.client.describe_execution(executionArn=execution)["status"] == "RUNNING"
        with pytest.raises(ClientError) as heartbeat:  # no HeartbeatSeconds on this task
            sfn.client.send_task_heartbeat(taskToken=token)
        sfn.client.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
        described = sfn.wait(execution)
        types = [event["type"] for event in sfn.history(execution)]

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"run": "r1", "decision": {"approved": True}}
    assert sfn.calls["Park"] == [{"token": token, "input": {"run": "r1"}}]
    assert types.index("TaskSubmitted") < types.index("TaskSucceeded")
    assert _error_of(heartbeat) == "InvalidToken"  # AWS accepts it


def test_send_task_failure_goes_to_catch_with_its_error() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        sfn.client.send_task_failure(taskToken=box.token(), error="Rejected", cause="too costly")
        described = sfn.wait(execution)
        failed = [e for e in sfn.history(execution) if e["type"] == "TaskFailed"]

    assert (described["status"], described["error"]) == ("FAILED", "NoDecision")
    assert failed[0]["taskFailedEventDetails"]["error"] == "Rejected"
    # moto drops the cause: responses.py send_task_failure never reads the "cause" parameter.
    assert "cause" not in failed[0]["taskFailedEventDetails"]


def test_second_send_task_success_after_the_execution_ended_is_invalid_token() -> None:
    # Real AWS answers TaskTimedOut for a token whose task is closed; moto looks tokens up
    # only in RUNNING executions (parser/models.py send_task_success), so: InvalidToken.
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        token = box.token()
        sfn.client.send_task_success(taskToken=token, output="{}")
        assert sfn.wait(execution)["status"] == "SUCCEEDED"
        with pytest.raises(ClientError) as second:
            sfn.client.send_task_success(taskToken=token, output="{}")
        with pytest.raises(ClientError) as heartbeat:
            sfn.client.send_task_heartbeat(taskToken=token)
        # send_task_failure searches every execution and the used endpoint is never removed:
        # a late failure for a finished execution is silently accepted (AWS: TaskTimedOut).
        sfn.client.send_task_failure(taskToken=token, error="Late")

    assert _error_of(second) == "InvalidToken"
    assert _error_of(heartbeat) == "InvalidToken"


def test_second_send_task_success_while_still_running_is_silently_accepted() -> None:
    # moto gap: a used token's callback endpoint stays in the pool and no consumer error is
    # ever reported, so while the execution runs a replay returns 200 (AWS: TaskTimedOut).
    box = TokenBox()
    definition = {
        "StartAt": "First",
        "States": {
            "First": _wait_for_token("Park", ResultPath="$.first", Next="Second"),
            "Second": _wait_for_token("Park", ResultPath="$.second", End=True),
        },
    }
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(definition, {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        first = box.token(0)
        sfn.client.send_task_success(taskToken=first, output='{"n": 1}')
        second = box.token(1)
        replay = sfn.client.send_task_success(taskToken=first, output='{"n": 99}')
        sfn.client.send_task_success(taskToken=second, output='{"n": 2}')
        described = sfn.wait(execution)

    assert replay["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert json.loads(described["output"]) == {"first": {"n": 1}, "second": {"n": 2}}


def test_unknown_token_is_invalid_token() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        box.token()  # an execution is parked, so there is a pool to search
        with pytest.raises(ClientError) as success:
            sfn.client.send_task_success(taskToken="not-a-token", output="{}")
        with pytest.raises(ClientError) as failure:
            sfn.client.send_task_failure(taskToken="not-a-token", error="X")
        with pytest.raises(ClientError) as heartbeat:
            sfn.client.send_task_heartbeat(taskToken="not-a-token")
        assert sfn.client.describe_execution(executionArn=execution)["status"] == "RUNNING"

    assert [_error_of(e) for e in (success, failure, heartbeat)] == ["InvalidToken"] * 3


def test_wait_task_timeout_is_caught_as_states_timeout() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        machine = _approval_machine(TimeoutSeconds=1)
        arn = sfn.create_state_machine(machine, {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        token = box.token()
        described = sfn.wait(execution, timeout_s=10)
        history = sfn.history(execution)
        with pytest.raises(ClientError) as late:
            sfn.client.send_task_success(taskToken=token, output="{}")

    assert (described["status"], described["error"]) == ("FAILED", "NoDecision")
    timed_out = [e for e in history if e["type"] == "TaskTimedOut"]
    assert timed_out[0]["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    no_decision = next(e for e in history if e["type"] == "FailStateEntered")
    caught = json.loads(no_decision["stateEnteredEventDetails"]["input"])
    assert caught["error"]["Error"] == "States.Timeout"
    assert _error_of(late) == "InvalidToken"  # AWS: TaskTimedOut


def test_heartbeats_keep_the_task_alive_and_missing_ones_time_out() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        machine = _approval_machine(TimeoutSeconds=10, HeartbeatSeconds=1)
        arn = sfn.create_state_machine(machine, {"Park": sfn.function_arn("Park")})
        alive = sfn.start(arn, {})
        token = box.token(0)
        for _ in range(4):
            time.sleep(0.4)
            sfn.client.send_task_heartbeat(taskToken=token)
        sfn.client.send_task_success(taskToken=token, output='{"approved": true}')
        kept = sfn.wait(alive)

        silent = sfn.start(arn, {})
        box.token(1)
        lapsed = sfn.wait(silent, timeout_s=10)
        history = sfn.history(silent)

    assert kept["status"] == "SUCCEEDED"
    assert lapsed["status"] == "FAILED"
    # moto reports a missed heartbeat as States.Timeout, never States.HeartbeatTimeout.
    timed_out = next(e for e in history if e["type"] == "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"


def test_same_execution_name_is_idempotent_only_while_running() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        first = sfn.start(arn, {"run": "r1"}, name="run-r1")
        token = box.token()
        again = sfn.start(arn, {"run": "r1"}, name="run-r1")
        with pytest.raises(ClientError) as other_input:
            sfn.start(arn, {"run": "r2"}, name="run-r1")
        sfn.client.send_task_success(taskToken=token, output="{}")
        sfn.wait(first)
        with pytest.raises(ClientError) as after_end:
            sfn.start(arn, {"run": "r1"}, name="run-r1")
        listed = sfn.client.list_executions(stateMachineArn=arn)["executions"]

    assert again == first
    assert len(box.tokens) == 1 and len(listed) == 1
    assert _error_of(other_input) == "ExecutionAlreadyExists"
    assert _error_of(after_end) == "ExecutionAlreadyExists"


def test_stop_execution_of_a_parked_task_waits_for_its_token() -> None:
    # moto gap: StopExecution does not interrupt a task waiting for its token (the state's
    # thread blocks in ExecutionState._evaluate_with_timeout); the execution stays RUNNING
    # until the token is answered, then ends ABORTED. AWS aborts at once.
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        token = box.token()
        sfn.wait_parked(execution)  # see its docstring: a stop before the wait starts races
        sfn.client.stop_execution(executionArn=execution)
        time.sleep(0.2)
        still = sfn.client.describe_execution(executionArn=execution)["status"]
        sfn.client.send_task_success(taskToken=token, output="{}")
        described = sfn.wait(execution)
        types = [event["type"] for event in sfn.history(execution)]

    assert still == "RUNNING"
    assert described["status"] == "ABORTED"
    assert types[-1] == "ExecutionAborted" and "Decided" not in json.dumps(types)


def test_stop_before_the_token_wait_starts_is_a_states_runtime_failure() -> None:
    # moto race (why wait_parked exists): once stopped, the interpreter skips evaluating
    # TimeoutSeconds and pops the task output instead, so the wait fails with States.Runtime.
    def park_then_stop(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sfn.client.stop_execution(executionArn=event["input"]["execution"])
        return {}

    definition = {
        "StartAt": "Park",
        "States": {
            "Park": {
                **_wait_for_token("Park", End=True),
                "Parameters": {
                    "FunctionName": "${Park}",
                    "Payload": {
                        "token.$": "$$.Task.Token",
                        "input": {"execution.$": "$$.Execution.Id"},
                    },
                },
            },
        },
    }
    with step_functions({"Park": park_then_stop}) as sfn:
        arn = sfn.create_state_machine(definition, {"Park": sfn.function_arn("Park")})
        described = sfn.wait(sfn.start(arn, {}))

    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "'>' not supported between instances of 'dict' and 'int'" in described["cause"]


def test_stop_execution_aborts_a_wait_state_at_once() -> None:
    definition = {
        "StartAt": "Pause",
        "States": {"Pause": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    with step_functions({}) as sfn:
        execution = sfn.start(sfn.create_state_machine(definition), {})
        wait_until(lambda: len(sfn.history(execution)) >= 2, what="Wait state entered")
        sfn.client.stop_execution(executionArn=execution)
        described = sfn.wait(execution, timeout_s=2)

    assert described["status"] == "ABORTED"


def test_leaving_the_harness_releases_parked_executions() -> None:
    box = TokenBox()
    with step_functions({"Park": box}) as sfn:
        arn = sfn.create_state_machine(_approval_machine(), {"Park": sfn.function_arn("Park")})
        execution = sfn.start(arn, {})
        box.token()
        started = time.monotonic()
        assert sfn.stop_running() == []
        described = sfn.client.describe_execution(executionArn=execution)
        assert time.monotonic() - started < 2

    assert described["status"] == "ABORTED"
