"""What the REST API, the WebSocket API and Slack do, behind their handlers.

Every command checks the caller's role on the decision set's project first, then records
its input synchronously (validation errors come back at once), and hands the long part
to the engine: Step Functions continues on its own; the in-process engine continues in a
background worker of this process (so an HTTP call returns in milliseconds while the
delivery nodes run for seconds).

Approvals are idempotent: repeating the decision already recorded returns the recorded
one (``replayed``), a different decision is refused with :class:`AlreadyDecided`. Task
tokens stay in the database; nothing here returns them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentic_mlops.api.auth import Identity
from agentic_mlops.domain import ApprovalDecision
from agentic_mlops.errors import AlreadyDecided, Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from agentic_mlops.engines.base import Engine, RunOutcome
    from agentic_mlops.engines.local import LocalEngine
    from agentic_mlops.persistence.models import DecisionSet, Event, Project, Wait

logger = logging.getLogger(__name__)

Decision = Literal["approve", "reject"]
MAX_EVENTS_PAGE = 500
SETTLE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ApprovalResult:
    """The decision recorded at an approval gate."""

    decision_set_id: str
    approval_id: str
    decision: str
    approver: str
    comment: str | None
    replayed: bool
    status: str


class BackgroundRunner:
    """Runs in-process engine work off the request thread, one job per decision set at a time."""

    def __init__(self, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="engine")
        self._locks: dict[str, threading.Lock] = {}
        self._queued: dict[str, int] = {}
        self._guard = threading.Lock()
        self._pending: set[Future[Any]] = set()
        self._latest: dict[str, Future[Any]] = {}

    def submit(self, decision_set_id: str, work: Callable[[], Any]) -> Future[Any]:
        """Queue ``work`` for a decision set; failures are logged (the run records them)."""
        with self._guard:
            lock = self._locks.setdefault(decision_set_id, threading.Lock())
            self._queued[decision_set_id] = self._queued.get(decision_set_id, 0) + 1

        def run() -> Any:
            with lock:
                try:
                    return work()
                except Exception as exc:
                    # The engine already marked the decision set failed and emitted
                    # run-complete; this is the background worker's own record of it.
                    logger.warning("background run of %s ended: %s", decision_set_id, exc)
                    return None

        future = self._executor.submit(run)
        with self._guard:
            self._pending.add(future)
            self._latest[decision_set_id] = future
        future.add_done_callback(lambda done: self._forget(decision_set_id, done))
        return future

    def settle(self, decision_set_id: str, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Wait (bounded) for the decision set's queued work to reach its pause or end.

        An event such as ``approval-requested`` is streamed just before the run records
        its pause; a client answering at once must not be refused for that.
        """
        with self._guard:
            future = self._latest.get(decision_set_id)
        if future is not None:
            with contextlib.suppress(TimeoutError):
                future.result(timeout=timeout_s)

    def _forget(self, decision_set_id: str, future: Future[Any]) -> None:
        with self._guard:
            self._pending.discard(future)
            if self._latest.get(decision_set_id) is future:
                del self._latest[decision_set_id]
            self._queued[decision_set_id] -= 1
            if not self._queued[decision_set_id]:  # nothing queued: forget its lock
                del self._queued[decision_set_id]
                del self._locks[decision_set_id]

    def busy(self) -> int:
        """How many jobs are queued or running."""
        with self._guard:
            return len(self._pending)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let running jobs finish."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


class PlatformService:
    """The platform's commands and reads, authorised per project.

    Args:
        engine: the engine chosen by configuration.
        runner: where in-process engine work continues; ``None`` runs it inline (the
            Step Functions engine never needs one: it returns at once).
        public_url: the base URL of the API, for local download links.
    """

    def __init__(
        self,
        engine: Engine,
        runner: BackgroundRunner | None = None,
        *,
        public_url: str | None = None,
    ) -> None:
        from agentic_mlops.engines.local import LocalEngine

        self.engine = engine
        self.runner = runner
        self.public_url = public_url
        self._local: LocalEngine | None = engine if isinstance(engine, LocalEngine) else None
        runtime = getattr(engine, "_runtime", None)
        self.store = (self._local or runtime).store  # type: ignore[union-attr]

    # projects ---------------------------------------------------------------------------

    def create_project(self, identity: Identity, name: str) -> tuple[Project, bool]:
        """Create a project (or return the one with that name); (project, created).

        Raises:
            Forbidden: the caller is not a requester for every project.
            InvalidInput: a blank name.
        """
        from agentic_mlops.api.auth import ALL_PROJECTS

        identity.require("requester", ALL_PROJECTS, "create projects")
        name = name.strip()
        if not name:
            raise InvalidInput("the project name is empty")
        return self.store.create_project(name)

    # decision sets ----------------------------------------------------------------------

    def decision_set(self, identity: Identity, decision_set_id: str) -> DecisionSet:
        """A decision set the caller may read.

        Raises:
            NotFound: unknown id.
            Forbidden: no role on its project.
        """
        decision_set = self.store.get_decision_set(decision_set_id)
        identity.require_read(decision_set.project_id)
        return decision_set

    def start(
        self,
        identity: Identity,
        project_id: str,
        request: str,
        answers: dict[str, str] | None = None,
    ) -> RunOutcome:
        """Create a decision set from a request and start the engine.

        Raises:
            NotFound: unknown project.
            Forbidden: the caller is not a requester of the project.
            InvalidInput: an empty or oversized request, an unreadable answer.
        """
        project = self.store.get_project(project_id)
        identity.require("requester", project.id, "start decision sets")
        if self._local is not None and self.runner is not None:
            decision_set = self._local.prepare(project.name, request, answers)
            self._continue(decision_set.id, "start")
            return self.engine.status(decision_set.id)
        return self.engine.start(project.name, request, answers)

    def answer(
        self, identity: Identity, decision_set_id: str, answers: dict[str, str]
    ) -> RunOutcome:
        """Answer the open questions and continue.

        Raises:
            NotFound, Forbidden, Conflict (not waiting for answers), InvalidInput.
        """
        decision_set = self.decision_set(identity, decision_set_id)
        identity.require("requester", decision_set.project_id, "answer questions")
        if self._local is not None and self.runner is not None:
            self.runner.settle(decision_set_id)
            wait = self._local.pending_wait(decision_set_id, "question")
            cleaned = self._local.validate_answers(answers)
            if not cleaned:
                raise InvalidInput("no answers given")
            self.store.decide_wait(
                wait.id, {"answers": cleaned, "by": identity.user}, identity.user
            )
            self._continue(decision_set_id, "resume-question")
            return self.engine.status(decision_set_id)
        return self.engine.answer(decision_set_id, answers, identity.user)

    def revise(
        self,
        identity: Identity,
        decision_set_id: str,
        change: str,
        answers: dict[str, str] | None = None,
    ) -> RunOutcome:
        """Create a revision (a child decision set) carrying ``change`` and start it.

        Raises:
            NotFound, Forbidden, Conflict (parent not decided), InvalidInput.
        """
        parent = self.decision_set(identity, decision_set_id)
        identity.require("requester", parent.project_id, "request revisions")
        if self._local is not None and self.runner is not None:
            self.runner.settle(decision_set_id)
            child = self._local.prepare_revision(decision_set_id, change, answers)
            self._continue(child.id, "revise")
            return self.engine.status(child.id)
        return self.engine.revise(decision_set_id, change, answers)

    # approvals --------------------------------------------------------------------------

    def decide(
        self,
        identity: Identity,
        decision_set_id: str,
        decision: Decision,
        comment: str | None = None,
    ) -> ApprovalResult:
        """Approve or reject the plan waiting at a decision set's gate (idempotent).

        Raises:
            NotFound: unknown decision set.
            Forbidden: the caller is not an approver of the project.
            AlreadyDecided: a different decision was recorded before.
            Conflict: the decision set is not waiting for approval.
            InvalidInput: approving a policy-failed plan without a comment.
        """
        decision_set = self.decision_set(identity, decision_set_id)
        identity.require("approver", decision_set.project_id, "approve or reject plans")
        if self.runner is not None:
            self.runner.settle(decision_set_id)
        wait = self.store.latest_wait(decision_set_id, "approval")
        return self._decide(identity, decision_set, wait, decision, comment)

    def decide_approval(
        self,
        identity: Identity,
        approval_id: str,
        decision: Decision,
        comment: str | None = None,
    ) -> ApprovalResult:
        """Decide an approval by its id (what a Slack button carries).

        Raises:
            NotFound: no approval with that id.
            Forbidden, AlreadyDecided, Conflict, InvalidInput: as :meth:`decide`.
        """
        wait = self.store.get_wait(approval_id)
        if wait.kind != "approval":
            raise NotFound(f"no approval with id {approval_id!r}")
        decision_set = self.store.get_decision_set(wait.decision_set_id)
        identity.require("approver", decision_set.project_id, "approve or reject plans")
        if self.runner is not None:
            self.runner.settle(decision_set.id)
        latest = self.store.latest_wait(decision_set.id, "approval")
        if latest is None or latest.id != wait.id:
            raise Conflict(f"approval {approval_id} is no longer the open one")
        return self._decide(identity, decision_set, wait, decision, comment)

    def _decide(
        self,
        identity: Identity,
        decision_set: DecisionSet,
        wait: Wait | None,
        decision: Decision,
        comment: str | None,
    ) -> ApprovalResult:
        if wait is not None and wait.status == "decided":
            return self._recorded(decision_set, wait, decision)
        chosen = ApprovalDecision(decision=decision, comment=comment, approver=identity.user)
        try:
            if self._local is not None and self.runner is not None:
                pending = self._local.pending_wait(decision_set.id, "approval")
                self._local.check_decision(pending, chosen)
                wait = self.store.decide_wait(
                    pending.id, chosen.model_dump(mode="json"), identity.user
                )
                self._continue(decision_set.id, "resume-approval")
                status = self.store.get_decision_set(decision_set.id).status
            else:
                status = self.engine.decide(decision_set.id, chosen).status
                wait = self.store.latest_wait(decision_set.id, "approval")
        except AlreadyDecided:
            # Lost a race with another approver (or a retried request): report what won.
            wait = self.store.latest_wait(decision_set.id, "approval")
            if wait is None or wait.status != "decided":
                raise
            return self._recorded(decision_set, wait, decision)
        assert wait is not None
        return ApprovalResult(
            decision_set_id=decision_set.id,
            approval_id=wait.id,
            decision=decision,
            approver=identity.user,
            comment=comment,
            replayed=False,
            status=status,
        )

    def _recorded(self, decision_set: DecisionSet, wait: Wait, asked: str) -> ApprovalResult:
        response = wait.response or {}
        recorded = str(response.get("decision"))
        if recorded != asked:
            outcome = {"approve": "approved", "reject": "rejected"}.get(recorded, "decided")
            raise AlreadyDecided(
                f"decision set {decision_set.id} was already {outcome} by"
                f" {wait.decided_by}; a different decision cannot replace it"
            )
        current = self.store.get_decision_set(decision_set.id)
        return ApprovalResult(
            decision_set_id=decision_set.id,
            approval_id=wait.id,
            decision=recorded,
            approver=str(response.get("approver") or wait.decided_by),
            comment=response.get("comment"),
            replayed=True,
            status=current.status,
        )

    # reads ------------------------------------------------------------------------------

    def status(self, identity: Identity, decision_set_id: str) -> RunOutcome:
        """Where a decision set stands."""
        self.decision_set(identity, decision_set_id)
        return self.engine.status(decision_set_id)

    def events(
        self,
        identity: Identity,
        decision_set_id: str,
        *,
        after: int = 0,
        limit: int = 100,
        event_type: str | None = None,
    ) -> list[Event]:
        """A page of the timeline."""
        self.decision_set(identity, decision_set_id)
        if not 1 <= limit <= MAX_EVENTS_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
        if after < 0:
            raise InvalidInput("after must be 0 or more")
        return self.store.list_events(
            decision_set_id, after=after, limit=limit, event_type=event_type
        )

    def bundle(
        self, identity: Identity, decision_set_id: str, expires_s: int = 900
    ) -> dict[str, Any]:
        """Where to download the decision set's bundle (presigned S3 URL or local link).

        Raises:
            Conflict: no bundle yet.
        """
        outcome = self.status(identity, decision_set_id)
        bundle = outcome.state.bundle if outcome.state else None
        if bundle is None:
            raise Conflict(
                f"decision set {decision_set_id} has no bundle (status: {outcome.status})"
            )
        from agentic_mlops.artifacts.store import LocalArtifactStore

        artifacts = self.engine.artifacts  # type: ignore[attr-defined]
        if isinstance(artifacts, LocalArtifactStore) and self.public_url:
            from agentic_mlops.api.downloads import signed_download_url

            url = signed_download_url(self.public_url, bundle.key, expires_s)
        else:
            url = artifacts.url(bundle.key, expires_s=expires_s)
        return {
            "url": url,
            "key": bundle.key,
            "sha256": bundle.sha256,
            "size": bundle.size,
            "expires_in": expires_s,
        }

    def _continue(self, decision_set_id: str, action: str) -> None:
        assert self._local is not None and self.runner is not None
        local = self._local
        # Said at once, so that the answer to this request already reads "running".
        self.store.set_status(decision_set_id, "running")
        self.runner.submit(decision_set_id, lambda: local.resume(decision_set_id, action=action))


def slack_decider() -> Callable[[Identity, str, Decision, str | None], ApprovalResult]:
    """The approval callable Slack's interactivity handler uses (this container's service)."""
    from agentic_mlops.api.runtime import service

    def decide(
        identity: Identity, approval_id: str, decision: Decision, comment: str | None
    ) -> ApprovalResult:
        return service().decide_approval(identity, approval_id, decision, comment)

    return decide
