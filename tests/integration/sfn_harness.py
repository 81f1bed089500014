"""Run Amazon States Language state machines for real, offline, with moto.

moto (with the ``stepfunctions`` extra) ships LocalStack's ASL interpreter; it executes state
machines in background threads when ``{"stepfunctions": {"execute_state_machine": True}}`` is
set. Task states call Lambda through an in-process boto3 client that moto intercepts; with
``{"lambda": {"use_docker": False}}`` that call lands in
``moto.awslambda_simple.models.LambdaSimpleBackend.invoke`` — the patch point used here to run
our own Python handlers in-process. See docs/step-functions-testing.md for what was verified.

Usage::

    with step_functions({"NodeRunner": handler}) as sfn:
        arn = sfn.create_state_machine(definition, {"Runner": sfn.function_arn("NodeRunner")})
        execution_arn = sfn.start(arn, {"run_id": "r1"})
        assert sfn.wait(execution_arn)["status"] == "SUCCEEDED"

No pytest import: usable from tests, scripts and the engine-parity check alike.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

Handler = Callable[[dict[str, Any], Any], Any]

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
TERMINAL_STATUSES: tuple[str, ...] = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
ROLE_PREFIX = "sfn-harness-"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_POLL_INTERVAL_S = 0.02
_PARK_GRACE_S = 0.05


def wait_until(
    predicate: Callable[[], Any], *, timeout_s: float = 5.0, what: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); TimeoutError otherwise.

    For conditions set by the interpreter's threads, e.g. a handler having stored a task token.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not met after {timeout_s}s")
        time.sleep(_POLL_INTERVAL_S)


class LambdaServiceError(Exception):
    """Raise from a handler to fail the Lambda *Invoke API call* instead of the function.

    The interpreter turns an Invoke ``ClientError`` into the ASL error ``Lambda.<code>``
    (``state_task_service_lambda.py``, ``_error_cause_from_client_error``), so the default
    gives ``Lambda.ServiceException``; ``code="TooManyRequestsException", status=429`` gives
    ``Lambda.TooManyRequestsException``. Only for ``arn:aws:states:::lambda:invoke``
    resources: a bare Lambda ARN resource maps every ClientError to ``Exception``.
    """

    def __init__(
        self,
        message: str = "Lambda service error",
        *,
        code: str = "ServiceException",
        status: int = 500,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class LambdaContext:
    """The attributes of the Python Lambda runtime's context that handlers commonly use."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int
    timeout_s: float
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_s - elapsed) * 1000))


@dataclass
class StepFunctionsHarness:
    """What ``step_functions()`` yields."""

    client: Any
    lambda_client: Any
    region: str
    role_arn: str
    handlers: dict[str, Handler]
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    state_machine_arns: list[str] = field(default_factory=list)
    _function_arns: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def function_arn(self, name: str) -> str:
        return self._function_arns[name]

    def create_state_machine(
        self,
        definition: str | Mapping[str, Any],
        substitutions: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
    ) -> str:
        """Create a STANDARD state machine; ``${Key}`` tokens are replaced from substitutions.

        Unknown placeholders raise KeyError, so a missing substitution fails loudly here rather
        than as an opaque ASL error later.
        """
        text = definition if isinstance(definition, str) else json.dumps(definition)
        values = dict(substitutions or {})
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
        response = self.client.create_state_machine(
            name=name or f"sm-{uuid.uuid4().hex[:12]}",
            definition=text,
            roleArn=self.role_arn,
        )
        arn = response["stateMachineArn"]
        self.state_machine_arns.append(arn)
        return arn

    def start(
        self,
        state_machine_arn: str,
        input: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> str:
        """Start an execution; a name is generated when none is given (as AWS does)."""
        response = self.client.start_execution(
            stateMachineArn=state_machine_arn,
            name=name or uuid.uuid4().hex,
            input=json.dumps(dict(input or {})),
        )
        return response["executionArn"]

    def wait(
        self,
        execution_arn: str,
        *,
        until: tuple[str, ...] = TERMINAL_STATUSES,
        timeout_s: float = 30,
    ) -> dict[str, Any]:
        """Poll describe_execution until its status is in ``until``; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            described = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] in until:
                return described
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{execution_arn} still {described['status']} after {timeout_s}s "
                    f"(waiting for {until})"
                )
            time.sleep(_POLL_INTERVAL_S)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = self.client.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def wait_parked(self, execution_arn: str, *, timeout_s: float = 5) -> list[dict[str, Any]]:
        """Wait until the execution sits in a ``.waitForTaskToken`` wait; returns the history.

        The handler sees the token (and a test may read it) before the interpreter starts
        waiting. Answering early is fine (the outcome is kept), but a StopExecution in that
        window makes moto skip the TimeoutSeconds evaluation and pop the wrong value off its
        stack: the task fails with States.Runtime ("'>' not supported between instances of
        'dict' and 'int'"). Call this before stopping a parked execution.
        """

        def parked() -> list[dict[str, Any]] | None:
            events = self.history(execution_arn)
            last = events[-1] if events else {}
            details = last.get("taskSubmittedEventDetails", {})
            return (
                events if str(details.get("resource", "")).endswith(".waitForTaskToken") else None
            )

        events = wait_until(parked, timeout_s=timeout_s, what=f"{execution_arn} parked")
        time.sleep(_PARK_GRACE_S)  # TaskSubmitted is recorded just before the wait starts
        return events

    def stop_running(self, timeout_s: float = 5) -> list[str]:
        """Abort every execution still RUNNING; returns the ARNs that did not end in time.

        moto's StopExecution only flags the interpreter (``Environment.set_stop``): a state
        parked on a task token keeps its thread blocked in ``ExecutionState._evaluate_with_timeout``
        until the token is answered or TimeoutSeconds (default 99999999) elapses, and the
        execution stays RUNNING. Answering its pending tokens after the stop releases the
        thread and the execution ends ABORTED.
        """
        stuck: list[str] = []
        for arn in self.state_machine_arns:
            listed = self.client.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
            for execution in listed["executions"]:
                execution_arn = execution["executionArn"]
                if _pending_task_tokens(execution_arn):
                    with contextlib.suppress(TimeoutError):
                        self.wait_parked(execution_arn, timeout_s=1)
                self.client.stop_execution(executionArn=execution_arn)
                for token in _pending_task_tokens(execution_arn):
                    with contextlib.suppress(ClientError):
                        self.client.send_task_success(taskToken=token, output="{}")
                try:
                    self.wait(execution_arn, timeout_s=timeout_s)
                except TimeoutError:
                    stuck.append(execution_arn)
        return stuck

    # Called by the patched LambdaSimpleBackend.invoke, in the execution's worker thread.
    def _invoke(self, name: str, arn: str, timeout_s: float, body: Any) -> tuple[bytes, bool]:
        event = _decode_event(body)
        with self._lock:
            self.calls.setdefault(name, []).append(event)
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=arn,
            aws_request_id=str(uuid.uuid4()),
            memory_limit_in_mb=128,
            timeout_s=timeout_s,
        )
        try:
            result = self.handlers[name](event, context)
        except LambdaServiceError as exc:
            error = JsonRESTError(exc.code, str(exc))
            error.code = exc.status
            raise error from exc
        except Exception as exc:  # the Lambda Python runtime's unhandled-error payload
            payload = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return json.dumps(payload).encode(), True
        return json.dumps(result).encode(), False


@contextmanager
def step_functions(
    handlers: Mapping[str, Handler], *, region: str = "us-east-1"
) -> Iterator[StepFunctionsHarness]:
    """moto with the ASL interpreter on, one Lambda function per handler, dispatched in-process."""
    with mock_aws(config=MOTO_CONFIG):  # type: ignore[arg-type]
        iam = boto3.client("iam", region_name=region)
        role_arn = iam.create_role(
            RoleName=f"{ROLE_PREFIX}{uuid.uuid4().hex[:8]}",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {
                                "Service": ["states.amazonaws.com", "lambda.amazonaws.com"]
                            },
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        harness = StepFunctionsHarness(
            client=boto3.client("stepfunctions", region_name=region),
            lambda_client=boto3.client("lambda", region_name=region),
            region=region,
            role_arn=role_arn,
            handlers=dict(handlers),
        )
        for name in harness.handlers:
            created = harness.lambda_client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role_arn,
                Handler="index.handler",
                Code={"ZipFile": _placeholder_zip()},
                Timeout=30,
            )
            harness._function_arns[name] = created["FunctionArn"]

        original_invoke = LambdaSimpleBackend.invoke

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes | str | None:
            fn = backend.get_function(function_name, qualifier)
            if fn.function_name not in harness.handlers:
                return original_invoke(
                    backend, function_name, qualifier, body, headers, response_headers
                )
            payload, failed = harness._invoke(
                fn.function_name, fn.function_arn, float(fn.timeout), body
            )
            if failed:
                response_headers["x-amz-function-error"] = "Unhandled"
            return payload

        with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
            try:
                yield harness
            finally:
                with contextlib.suppress(Exception):  # best effort; never mask the test's error
                    harness.stop_running()


def _pending_task_tokens(execution_arn: str) -> list[str]:
    """Task tokens of this execution that have no answer yet (read from moto's internals)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    _, _, _, region, account_id, *_ = execution_arn.split(":")
    execution = stepfunctions_parser_backends[account_id][region].describe_execution(execution_arn)
    env = getattr(getattr(execution, "exec_worker", None), "env", None)
    if env is None:
        return []
    pool = env.callback_pool_manager._pool
    return [token for token, endpoint in list(pool.items()) if endpoint.get_outcome() is None]


def _decode_event(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return {}
    return json.loads(body)


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()
