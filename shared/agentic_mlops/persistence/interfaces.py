"""What the platform stores, one interface per aggregate; callers type against these.

:class:`PlatformStore` is all of them (what :class:`~agentic_mlops.persistence.store.
PostgresStore` implements). The workflow's nodes need only :class:`NodeStore`, a small
protocol an in-memory fake can implement in tests.

Rules kept behind these interfaces, so that callers cannot forget them:

* every update of a decision set carries ``WHERE id = ? AND version = ?``; losing the race
  raises :class:`~agentic_mlops.errors.VersionConflict`, which
  :meth:`DecisionSetStore.update_decision_set` retries with exponential backoff and
  jitter (the only other writes to the row are single-statement increments and merges:
  the event counter and the read model);
* events are numbered per decision set and deduplicated by a key, so replaying a node
  never duplicates its events;
* a node's recorded output, its events and the read model's merge of that output are
  written in one statement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from agentic_mlops.persistence.models import (
    AgentRun,
    Connection,
    DecisionSet,
    DecisionSetRecord,
    Event,
    NewEvent,
    PendingApproval,
    Project,
    Subscriber,
    Wait,
)

Mutation = Callable[[DecisionSet], dict[str, Any]]
EventListener = Callable[[str, list[Event]], None]


class ProjectStore(ABC):
    """Projects: named groups of decision sets."""

    @abstractmethod
    def get_or_create_project(self, name: str) -> Project:
        """Return the project with this name, creating it if needed."""

    @abstractmethod
    def create_project(self, name: str) -> tuple[Project, bool]:
        """Create a project, or find the one with that name; (project, created)."""

    @abstractmethod
    def get_project(self, project_id: str) -> Project:
        """Return a project or raise :class:`~agentic_mlops.errors.NotFound`."""

    @abstractmethod
    def list_projects(self, project_ids: Sequence[str] | None = None) -> list[Project]:
        """Projects by name (only these ids when given)."""


class DecisionSetStore(ABC):
    """Decision sets and their read model."""

    @abstractmethod
    def create_decision_set(
        self,
        project_id: str,
        request: str,
        parent_id: str | None = None,
        state: dict[str, Any] | None = None,
        decision_set_id: str | None = None,
    ) -> DecisionSet:
        """Create a decision set in status ``created`` with its initial state (and the
        id it was built with; a new one by default)."""

    @abstractmethod
    def get_decision_set(self, decision_set_id: str) -> DecisionSet:
        """Return a decision set or raise :class:`~agentic_mlops.errors.NotFound`."""

    @abstractmethod
    def read_decision_set(self, decision_set_id: str) -> DecisionSetRecord:
        """The decision set, its state, latest wait and stream flag, in one query."""

    @abstractmethod
    def decision_set_state(self, decision_set_id: str) -> dict[str, Any]:
        """The decision set's current state (the read model) as JSON."""

    @abstractmethod
    def list_decision_sets(
        self,
        project_id: str | None = None,
        *,
        parent_id: str | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[DecisionSetRecord]:
        """Decision sets, newest first (of a project, or the children of a parent)."""

    @abstractmethod
    def update_decision_set(self, decision_set_id: str, mutate: Mutation) -> DecisionSet:
        """Apply ``mutate(current) -> changes`` under optimistic locking, retrying on races."""

    @abstractmethod
    def set_status(self, decision_set_id: str, status: str) -> DecisionSet:
        """Set a decision set's status (optimistically locked)."""

    @abstractmethod
    def unsettled_decision_sets(self) -> list[DecisionSet]:
        """Decision sets whose run may have been interrupted (not paused or ended), oldest
        first, with those paused at a wait that was decided but not resumed."""


class EventStore(ABC):
    """The ordered, durable timeline of each decision set."""

    @abstractmethod
    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(decision_set_id, events)`` after new events are stored."""

    @abstractmethod
    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling a listener added with :meth:`add_listener`."""

    @abstractmethod
    def append_events(self, decision_set_id: str, events: Sequence[NewEvent]) -> list[Event]:
        """Append events; return those newly stored (duplicates by key are skipped)."""

    @abstractmethod
    def list_events(
        self,
        decision_set_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        event_type: str | None = None,
    ) -> list[Event]:
        """Return the timeline in order."""

    @abstractmethod
    def get_event(self, decision_set_id: str, seq: int) -> Event:
        """One event of a decision set, or :class:`~agentic_mlops.errors.NotFound`."""

    @abstractmethod
    def steps_without_checkpoint(self, decision_set_id: str) -> list[int]:
        """The graph steps whose events are not yet linked to a checkpoint."""

    @abstractmethod
    def link_checkpoint(self, decision_set_id: str, step: int, checkpoint_id: str) -> None:
        """Record the checkpoint written after ``step`` on that step's events."""


class RunStore(ABC):
    """Node runs, for idempotency: a succeeded run is never executed again."""

    @abstractmethod
    def succeeded_output(self, key: str) -> dict[str, Any] | None:
        """Return the cached output of a succeeded node run, if any."""

    @abstractmethod
    def complete_run(self, run: AgentRun, events: Sequence[NewEvent]) -> list[Event]:
        """Record a node run, its events and (if it succeeded) its output in the read
        model, atomically; return the newly stored events."""

    @abstractmethod
    def list_runs(self, decision_set_id: str) -> list[AgentRun]:
        """Return the node runs of a decision set in the order they were first recorded."""


class JobStore(ABC):
    """Engine executions (jobs), their stream flag, and the leases of live runs."""

    @abstractmethod
    def start_job(self, decision_set_id: str, engine: str, action: str) -> str:
        """Record the start of an engine execution; return the job id."""

    @abstractmethod
    def finish_job(self, job_id: str, status: str, error: str | None = None) -> None:
        """Record the end of an engine execution."""

    @abstractmethod
    def mark_stream_abandoned(self, decision_set_id: str, job_id: str | None = None) -> None:
        """Record that the live consumer of a job (default: the latest one) went away."""

    @abstractmethod
    def latest_job(self, decision_set_id: str) -> dict[str, Any] | None:
        """The decision set's latest engine job (id, action, status, stream_abandoned...)."""

    @abstractmethod
    def run_lease(self, decision_set_id: str) -> AbstractContextManager[bool]:
        """Hold the decision set's run lease while the block runs; yields False (holding
        nothing) when another process holds it. A crashed process's lease is released by
        the database at once."""

    @abstractmethod
    def run_is_live(self, decision_set_id: str) -> bool:
        """Whether some process holds the decision set's run lease now."""


class WaitStore(ABC):
    """Human waits (question rounds and approval gates) and their notifications."""

    @abstractmethod
    def open_wait(
        self,
        decision_set_id: str,
        kind: str,
        wait_key: str,
        request: dict[str, Any],
        task_token: str | None = None,
    ) -> Wait:
        """Record a pending wait; opening the same ``wait_key`` again returns the first."""

    @abstractmethod
    def get_wait(self, wait_id: str) -> Wait:
        """Return a wait by id, or raise :class:`~agentic_mlops.errors.NotFound`."""

    @abstractmethod
    def find_wait(self, decision_set_id: str, wait_key: str) -> Wait | None:
        """The wait of a decision set opened under ``wait_key``, if any."""

    @abstractmethod
    def latest_wait(self, decision_set_id: str, kind: str | None = None) -> Wait | None:
        """Return the most recent wait of a decision set (of one kind, if given)."""

    @abstractmethod
    def decide_wait(self, wait_id: str, response: dict[str, Any], decided_by: str) -> Wait:
        """Record the answer to a pending wait, exactly once (else AlreadyDecided)."""

    @abstractmethod
    def expire_waits(self, decision_set_id: str) -> int:
        """Close the pending waits of a failed run; return how many were pending."""

    @abstractmethod
    def attach_task_token(self, wait_id: str, task_token: str) -> None:
        """Keep the engine's resume token with a wait (server side only)."""

    @abstractmethod
    def task_token(self, wait_id: str) -> str | None:
        """Return a wait's resume token. Server side only: never send it to a client."""

    @abstractmethod
    def claim_resume(self, wait_id: str) -> str | None:
        """Claim the one resumption of a decided wait whose token is attached: the token
        for the single caller that wins, None for everyone else (or while either the
        decision or the token is missing)."""

    @abstractmethod
    def pending_approvals(self, project_ids: Sequence[str] | None = None) -> list[PendingApproval]:
        """Approvals waiting for a decision, oldest first (on these projects when given)."""

    @abstractmethod
    def claim_notification(self, wait_id: str, channel: str) -> bool:
        """Claim the right to notify ``channel`` about a wait, once (True for the winner)."""

    @abstractmethod
    def release_notification(self, wait_id: str, channel: str) -> None:
        """Give back a claim whose notification failed, so that it can be tried again."""

    @abstractmethod
    def record_notification(self, wait_id: str, channel: str, details: dict[str, Any]) -> None:
        """Keep what a notification produced (a Slack message ts, for example)."""


class Deliveries(Protocol):
    """One locked delivery round of a decision set's events (see :meth:`ConnectionStore.
    deliveries`)."""

    subscribers: list[Subscriber]

    def events_after(self, seq: int) -> list[Event]:
        """The decision set's events after ``seq``, in order."""

    def delivered(self, connection_id: str, seq: int) -> None:
        """Move a subscriber's cursor."""

    def gone(self, connection_ids: Sequence[str]) -> None:
        """Forget connections that went away and mark the stream abandoned."""


class ConnectionStore(ABC):
    """WebSocket connections, their subscriptions and delivery cursors."""

    @abstractmethod
    def connect(self, connection_id: str, user: str, grants: Sequence[str], endpoint: str) -> None:
        """Record a new connection (a repeated ``$connect`` replaces the record)."""

    @abstractmethod
    def disconnect(self, connection_id: str) -> None:
        """Forget a connection and its subscriptions."""

    @abstractmethod
    def connection(self, connection_id: str) -> Connection | None:
        """The recorded connection, or None."""

    @abstractmethod
    def take_message_token(self, connection_id: str, *, rate: float, burst: float) -> bool:
        """Spend one token of the connection's message budget (refilled at ``rate`` per
        second up to ``burst``); False when it is empty."""

    @abstractmethod
    def subscribe(self, connection_id: str, decision_set_id: str, since: int | None) -> int:
        """Subscribe a connection; return the cursor the next pump sends after.

        ``since`` sets the cursor; None keeps an existing subscription's cursor (0 for a
        new one)."""

    @abstractmethod
    def unsubscribe(self, connection_id: str, decision_set_id: str) -> None:
        """Stop sending a decision set's events to a connection."""

    @abstractmethod
    def deliveries(self, decision_set_id: str) -> AbstractContextManager[Deliveries]:
        """Lock the decision set's subscriptions for one delivery round (a transaction)."""


class PlatformStore(
    ProjectStore, DecisionSetStore, EventStore, RunStore, JobStore, WaitStore, ConnectionStore
):
    """Everything the platform stores."""


class NodeStore(Protocol):
    """What the workflow's nodes use of the store (a fake implements just this)."""

    def succeeded_output(self, key: str) -> dict[str, Any] | None: ...

    def complete_run(self, run: AgentRun, events: Sequence[NewEvent]) -> list[Event]: ...

    def append_events(self, decision_set_id: str, events: Sequence[NewEvent]) -> list[Event]: ...

    def open_wait(
        self,
        decision_set_id: str,
        kind: str,
        wait_key: str,
        request: dict[str, Any],
        task_token: str | None = None,
    ) -> Wait: ...

    def get_decision_set(self, decision_set_id: str) -> DecisionSet: ...

    def update_decision_set(self, decision_set_id: str, mutate: Mutation) -> DecisionSet: ...


__all__ = [
    "ConnectionStore",
    "DecisionSetStore",
    "Deliveries",
    "EventListener",
    "EventStore",
    "JobStore",
    "Mutation",
    "NodeStore",
    "PlatformStore",
    "ProjectStore",
    "RunStore",
    "WaitStore",
]
