"""The cloud engine: AWS Step Functions runs the nodes, one Lambda invocation per node.

:meth:`StepFunctionsEngine.launch` starts an execution named after the decision set (a
repeated start is idempotent). A decided wait is resumed with ``SendTaskSuccess`` by
whoever wins :meth:`~agentic_mlops.persistence.interfaces.WaitStore.claim_resume`: the
caller that recorded the decision, or the wait registrar when the decision was recorded
before the execution reached the wait — so no client ever has to retry. The task token
never leaves the server.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from agentic_mlops.engines.base import Engine
from agentic_mlops.errors import AlreadyDecided, Conflict, NotFound

if TYPE_CHECKING:
    from agentic_mlops.persistence.interfaces import WaitStore
    from agentic_mlops.persistence.models import Wait

logger = logging.getLogger(__name__)


class StepFunctionsEngine(Engine):
    """Runs decision sets on a Step Functions state machine.

    Args:
        store: where waits and their task tokens are kept.
        state_machine_arn: the workflow's state machine.
        client: a boto3 ``stepfunctions`` client (created lazily when omitted).
    """

    name = "stepfunctions"

    def __init__(self, store: WaitStore, state_machine_arn: str, client: Any = None) -> None:
        self._store = store
        self._arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 Step Functions client."""
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions")
        return self._client

    def launch(self, decision_set_id: str, action: str) -> None:
        self.execute(decision_set_id)

    def execute(self, decision_set_id: str) -> str:
        """Start the execution of a prepared decision set (idempotent); return its ARN."""
        name = execution_name(decision_set_id)
        payload = json.dumps({"decision_set_id": decision_set_id})
        try:
            answer = self.client.start_execution(
                stateMachineArn=self._arn, name=name, input=payload
            )
            return str(answer["executionArn"])
        except self.client.exceptions.ExecutionAlreadyExists:
            logger.info("execution %s already exists", name)
            return self._arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def continue_wait(self, wait: Wait) -> None:
        token = self._store.claim_resume(wait.id)
        if token is None:
            # No execution waits for it yet: the wait registrar resumes it on arrival.
            logger.info("wait %s decided before its token arrived", wait.id)
            return
        send_task_success(
            self.client, token, {"decision_set_id": wait.decision_set_id, "wait_id": wait.id}
        )

    def resume(self, decision_set_id: str) -> None:
        raise Conflict(
            "the Step Functions engine resumes failed executions with a redrive of"
            f" {execution_name(decision_set_id)}; nothing to do locally"
        )


def send_task_success(client: Any, token: str, output: dict[str, Any]) -> None:
    """Resume a task-token wait; a token used before means "already decided".

    Raises:
        AlreadyDecided: Step Functions answered ``TaskTimedOut`` (the token was used or
            its wait timed out).
        NotFound: the token is unknown (``InvalidToken`` / ``TaskDoesNotExist``).
    """
    from botocore.exceptions import ClientError

    try:
        client.send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "TaskTimedOut":
            raise AlreadyDecided("this wait was already decided (or timed out)") from exc
        if code in {"InvalidToken", "TaskDoesNotExist"}:
            raise NotFound("no execution is waiting for this decision") from exc
        raise


def execution_name(decision_set_id: str) -> str:
    """The execution name of a decision set (one execution per decision set)."""
    return decision_set_id
