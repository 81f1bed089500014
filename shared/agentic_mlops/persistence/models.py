"""Rows of the platform's tables, as returned by the store."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


def new_id(prefix: str) -> str:
    """Return a new short random id such as ``ds-3f2a9c1b7d4e``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Project(BaseModel):
    """A project groups the decision sets of one ML workload."""

    id: str
    name: str
    created_at: datetime


class DecisionSet(BaseModel):
    """One revision of a project's decisions; also the LangGraph thread id."""

    id: str
    project_id: str
    parent_id: str | None
    request: str
    status: str
    version: int
    last_event_seq: int
    commit_sha: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class NewEvent(BaseModel):
    """An event to append to a decision set's timeline."""

    type: str
    payload: dict[str, Any]
    dedupe_key: str
    node: str | None = None
    step: int | None = None


class Event(BaseModel):
    """A stored timeline event."""

    decision_set_id: str
    seq: int
    type: str
    node: str | None
    payload: dict[str, Any]
    step: int | None
    checkpoint_id: str | None
    created_at: datetime

    def message(self) -> dict[str, Any]:
        """Return the event as streamed to subscribers."""
        return {
            "type": self.type,
            "seq": self.seq,
            "decision_set_id": self.decision_set_id,
            "node": self.node,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }


class Wait(BaseModel):
    """A pending or decided human wait: an intake question round or an approval gate.

    The engine's resume token (a Step Functions task token in the cloud) is stored in
    the same row but is deliberately not part of this model, so it cannot leak.
    """

    id: str
    decision_set_id: str
    kind: str
    wait_key: str
    status: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


class AgentRun(BaseModel):
    """A node execution recorded for idempotency."""

    key: str
    decision_set_id: str
    node: str
    input_hash: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    executions: int
    duration_ms: float | None = Field(default=None)


class DecisionSetRecord(BaseModel):
    """A decision set as read in one query: its row, current state, open wait and job.

    ``state`` is the read model: the decision set's workflow state as JSON, merged from
    each node's output in the statement that records the node (no checkpoint is read).
    """

    decision_set: DecisionSet
    state: dict[str, Any]
    wait: Wait | None = Field(default=None, description="The latest wait, pending or not.")
    stream_abandoned: bool = False
    run_live: bool | None = Field(
        default=None, description="Whether a process holds the run's lease (None: not asked)."
    )

    @property
    def pending(self) -> Wait | None:
        """The open wait, if the decision set is paused at one."""
        return self.wait if self.wait is not None and self.wait.status == "pending" else None


class PendingApproval(BaseModel):
    """An approval waiting for a decision, with what an approver sees at a glance."""

    wait: Wait
    decision_set: DecisionSet
    project_name: str


class Connection(BaseModel):
    """A recorded WebSocket connection."""

    id: str
    user: str
    grants: list[str]
    endpoint: str


class Subscriber(BaseModel):
    """A subscription as the delivery pump sees it: where to post, and what was sent."""

    connection_id: str
    endpoint: str
    delivered_seq: int
