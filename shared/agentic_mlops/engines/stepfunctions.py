"""The cloud engine: AWS Step Functions runs the nodes, one Lambda invocation per node.

Commands are asynchronous: :meth:`StepFunctionsEngine.start` creates the decision set,
checkpoints its initial state and starts an execution named after the decision set (a
repeated start is idempotent). Answers and approvals are recorded on the wait row first
(a conditional update, so exactly one wins), then the execution is resumed with
``SendTaskSuccess``; the task token never leaves the server.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.engines.base import Engine, RunOutcome
from agentic_mlops.errors import AlreadyDecided, Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from agentic_mlops.artifacts.store import ArtifactStore
    from agentic_mlops.changes import ChangeSummary
    from agentic_mlops.engines.local import LocalEngine
    from agentic_mlops.persistence.models import Wait

logger = logging.getLogger(__name__)


class StepFunctionsEngine(Engine):
    """Runs decision sets on a Step Functions state machine.

    Args:
        runtime: the in-process engine over the same database, used to validate input,
            prepare decision sets and read their state (it runs no node here).
        state_machine_arn: the workflow's state machine.
        client: a boto3 ``stepfunctions`` client (created lazily when omitted).
    """

    name = "stepfunctions"

    def __init__(self, runtime: LocalEngine, state_machine_arn: str, client: Any = None) -> None:
        self._runtime = runtime
        self._arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 Step Functions client."""
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions")
        return self._client

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store the functions write bundles to."""
        return self._runtime.artifacts

    def validate_answers(self, answers: dict[str, str]) -> dict[str, str]:
        """Check answers before anything is recorded (see LocalEngine.validate_answers)."""
        return self._runtime.validate_answers(answers)

    def start(
        self, project: str, request: str, answers: dict[str, str] | None = None
    ) -> RunOutcome:
        """Create the decision set and start its execution; returns at once."""
        decision_set = self._runtime.prepare(project, request, answers)
        self.execute(decision_set.id)
        return self._runtime.status(decision_set.id)

    def revise(
        self, parent_id: str, change: str, answers: dict[str, str] | None = None
    ) -> RunOutcome:
        """Create a revision and start its execution; returns at once."""
        child = self._runtime.prepare_revision(parent_id, change, answers)
        self.execute(child.id)
        return self._runtime.status(child.id)

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

    def answer(self, decision_set_id: str, answers: dict[str, str], by: str) -> RunOutcome:
        """Record the answers and resume the waiting execution."""
        wait = self._runtime.pending_wait(decision_set_id, "question")
        answers = self._runtime.validate_answers(answers)
        if not answers:
            raise InvalidInput("no answers given; use --answer FIELD=VALUE")
        return self._resume(decision_set_id, wait, {"answers": answers, "by": by}, by)

    def decide(self, decision_set_id: str, decision: ApprovalDecision) -> RunOutcome:
        """Record the approval decision and resume the waiting execution."""
        wait = self._runtime.pending_wait(decision_set_id, "approval")
        self._runtime.check_decision(wait, decision)
        return self._resume(
            decision_set_id, wait, decision.model_dump(mode="json"), decision.approver
        )

    def resume(self, decision_set_id: str) -> RunOutcome:
        """Start the execution again if none is running (after a failure)."""
        self._runtime.store.get_decision_set(decision_set_id)
        raise Conflict(
            "the Step Functions engine resumes failed executions with a redrive of"
            f" {execution_name(decision_set_id)}; nothing to do locally"
        )

    def status(self, decision_set_id: str) -> RunOutcome:
        """Where the decision set stands (from the database)."""
        return self._runtime.status(decision_set_id)

    def change_summary(self, decision_set_id: str) -> ChangeSummary:
        """The Change Summary, as for the in-process engine."""
        return self._runtime.change_summary(decision_set_id)

    def _resume(
        self, decision_set_id: str, wait: Wait, response: dict[str, Any], by: str
    ) -> RunOutcome:
        token = self._runtime.task_token(wait.id)
        if token is None:
            raise Conflict(
                f"the {wait.kind} of decision set {decision_set_id} has no execution waiting"
                " for it yet; try again in a moment"
            )
        decided = self._runtime.store.decide_wait(wait.id, response, by)
        send_task_success(
            self.client, token, {"decision_set_id": decision_set_id, "wait_id": decided.id}
        )
        return self._runtime.status(decision_set_id)


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
