"""The platform's application service: every command and read, for every entry point.

REST, WebSocket, Slack and the CLI call this one service with an
:class:`~agentic_mlops.domain.identity.Identity` (the CLI acts as the local user, with
every role), so authorisation and input validation are the same everywhere. A command
checks the caller's role, validates its input (:mod:`agentic_mlops.service.inputs`),
records it, and hands the long part to the engine: inline for the CLI, background
workers for ``serve``, Step Functions in AWS. Reads are one query on the read model.

Rules kept here:

* a decision set the caller may not read is "not found", whether or not it exists;
* nothing is created when the input is refused, or when the request's time is up;
* approvals are idempotent: repeating the recorded decision returns it (``replayed``) at
  once, a different one is refused with :class:`~agentic_mlops.errors.AlreadyDecided`; a
  decision naming a plan that is no longer the one waiting is refused
  (:class:`~agentic_mlops.errors.StalePlan`). Task tokens stay in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from agentic_mlops.changes import ChangeSummary, SummaryCache, build_change_summary
from agentic_mlops.domain import ApprovalDecision, MLOpsProjectState
from agentic_mlops.domain.identity import ALL_PROJECTS, ApprovalResult, Identity
from agentic_mlops.domain.state import FINAL_STATUSES, PAUSED_STATUSES
from agentic_mlops.errors import (
    AlreadyDecided,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StalePlan,
)
from agentic_mlops.persistence.models import new_id
from agentic_mlops.service import inputs
from agentic_mlops.service.deadline import check_deadline
from agentic_mlops.service.reads import DecisionSetRead, summary

if TYPE_CHECKING:
    from agentic_mlops.artifacts.store import ArtifactStore
    from agentic_mlops.domain import ConstraintSchema
    from agentic_mlops.engines.base import Engine
    from agentic_mlops.persistence.interfaces import PlatformStore
    from agentic_mlops.persistence.models import DecisionSetRecord, Event, Project, Wait
    from agentic_mlops.providers import OrchestrationProvider
    from agentic_mlops.vcs.repository import ProjectRepository

logger = logging.getLogger(__name__)

Decision = Literal["approve", "reject"]
AnswerParser = Callable[[str, str], Any]
MAX_EVENTS_PAGE = 500
MAX_LIST = 200
_DECIDED = {"approve": "approved", "reject": "rejected"}
_REVISABLE = FINAL_STATUSES | PAUSED_STATUSES
_TEXT_SUFFIXES = (".bin", ".zip", ".gz", ".png", ".jpg", ".jpeg", ".pt", ".onnx")


class PlatformService:
    """The platform's commands and reads, authorised per project.

    Args:
        store: the platform store.
        engine: runs the work (chosen by configuration).
        artifacts: where sources and bundles are stored.
        repositories: project id -> its history repository (a context manager).
        parse_answer: reads one answer (``InvalidAnswer`` for a bad value).
        provider: the orchestration provider, for interpreting a revision's change once,
            when the revision is asked for (a factory: only revisions need it).
        download_url: builds a bundle's download link ``(key, expires_s) -> url``;
            default: the artifact store's (presigned S3 URL).
    """

    def __init__(
        self,
        store: PlatformStore,
        engine: Engine,
        *,
        artifacts: ArtifactStore,
        repositories: Callable[[str], ProjectRepository] | None,
        parse_answer: AnswerParser,
        provider: Callable[[], OrchestrationProvider],
        download_url: Callable[[str, int], str] | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.artifacts = artifacts
        self.repositories = repositories
        self._parse_answer = parse_answer
        self._provider = provider
        self._download_url = download_url or (lambda key, s: artifacts.url(key, expires_s=s))
        self._summaries = SummaryCache()

    def check_answers(self, answers: dict[str, str]) -> dict[str, str]:
        """Validate answers without recording them (a form checking a field as it is typed).

        Raises:
            InvalidInput: naming the first bad field or value.
        """
        return inputs.clean_answers(answers, self._parse_answer)

    # projects ---------------------------------------------------------------------------

    def create_project(self, identity: Identity, name: str) -> tuple[Project, bool]:
        """Create a project (or return the one with that name); (project, created).

        Raises:
            Forbidden: the caller is not a requester for every project.
            InvalidInput: a blank or unstorable name.
        """
        identity.require("requester", ALL_PROJECTS, "create projects")
        name = inputs.clean_text(name, "the project name", max_chars=inputs.MAX_NAME_CHARS)
        check_deadline("creating the project")
        return self.store.create_project(name)

    def projects(self, identity: Identity) -> list[tuple[Project, list[str]]]:
        """The projects the caller has a role on, with those roles."""
        ids = None if identity.roles.get(ALL_PROJECTS) else list(identity.roles)
        return [(p, identity.roles_on(p.id)) for p in self.store.list_projects(ids)]

    def project(self, identity: Identity, project_id: str) -> tuple[Project, list[str]]:
        """One project the caller has a role on (else not found)."""
        project = self.store.get_project(inputs.clean_id(project_id, "the project id"))
        if not identity.can_read(project.id):
            raise NotFound(f"no project with id {project_id!r}")
        return project, identity.roles_on(project.id)

    # decision sets ----------------------------------------------------------------------

    def start(
        self,
        identity: Identity,
        project_id: str,
        request: str,
        answers: dict[str, str] | None = None,
    ) -> DecisionSetRead:
        """Create a decision set from a request and run it.

        Raises:
            NotFound: unknown project (or one the caller has no role on).
            Forbidden: the caller is not a requester of the project.
            InvalidInput: an empty, oversized or unstorable request, an unreadable answer.
        """
        project, _ = self.project(identity, project_id)
        return self._start(identity, project, request, answers)

    def start_in_named_project(
        self,
        identity: Identity,
        project_name: str,
        request: str,
        answers: dict[str, str] | None = None,
    ) -> DecisionSetRead:
        """Like :meth:`start`, in the project with that name (created if needed): the CLI."""
        identity.require("requester", ALL_PROJECTS, "create projects")
        name = inputs.clean_text(project_name, "the project name", max_chars=inputs.MAX_NAME_CHARS)
        request = inputs.clean_request(request)
        answers = inputs.clean_answers(answers, self._parse_answer)
        return self._start(identity, self.store.get_or_create_project(name), request, answers)

    def _start(
        self,
        identity: Identity,
        project: Project,
        request: str,
        answers: dict[str, str] | None,
    ) -> DecisionSetRead:
        identity.require("requester", project.id, "start decision sets")
        request = inputs.clean_request(request)
        answers = inputs.clean_answers(answers, self._parse_answer)
        initial = MLOpsProjectState(
            decision_set_id=new_id("ds"), project_id=project.id, request=request, answers=answers
        )
        check_deadline("creating the decision set")
        self._create(initial)
        self.engine.launch(initial.decision_set_id, "start")
        return self._read(initial.decision_set_id)

    def _create(self, initial: MLOpsProjectState) -> None:
        """Create the decision set with its initial state (the runner checkpoints it
        before the first node runs)."""
        self.store.create_decision_set(
            initial.project_id,
            initial.request,
            initial.revision_of,
            state=initial.model_dump(mode="json"),
            decision_set_id=initial.decision_set_id,
        )

    def read(self, identity: Identity, decision_set_id: str) -> DecisionSetRead:
        """A decision set the caller may read (one query).

        Raises:
            NotFound: unknown id, or a decision set on a project the caller has no role on.
        """
        return DecisionSetRead(self._readable(identity, decision_set_id))

    def answer(
        self, identity: Identity, decision_set_id: str, answers: dict[str, str]
    ) -> DecisionSetRead:
        """Answer the open questions and continue.

        Raises:
            NotFound, Forbidden, Conflict (not waiting for answers), InvalidInput.
        """
        record = self._readable(identity, decision_set_id)
        identity.require("requester", record.decision_set.project_id, "answer questions")
        wait = record.pending
        if wait is None or wait.kind != "question":
            raise Conflict(
                f"decision set {decision_set_id} is not awaiting input"
                f" (status: {record.decision_set.status})"
            )
        cleaned = inputs.clean_answers(answers, self._parse_answer)
        if not cleaned:
            raise InvalidInput("no answers given; use --answer FIELD=VALUE")
        check_deadline("recording the answers")
        decided = self.store.decide_wait(
            wait.id, {"answers": cleaned, "by": identity.user}, identity.user
        )
        self.engine.continue_wait(decided)
        return self._read(decision_set_id)

    def revise(
        self,
        identity: Identity,
        decision_set_id: str,
        change: str | None,
        answers: dict[str, str] | None = None,
        *,
        from_seq: int | None = None,
    ) -> DecisionSetRead:
        """Create a revision (a child decision set) carrying a change, and run it.

        The revision starts from the parent's final constraints — or, with ``from_seq``,
        from the constraints as they stood at that event of the parent's timeline (a fork)
        — applies the change, then the answers, and goes through planning, approval and
        delivery again. The change is interpreted once, here.

        Raises:
            NotFound, Forbidden: as for :meth:`read`; requester role needed.
            Conflict: the parent is still running.
            InvalidInput: no change and no answers, a change that changes no constraint,
                an unreadable answer, or an event that is not the parent's.
        """
        parent = self._readable(identity, decision_set_id)
        identity.require("requester", parent.decision_set.project_id, "request revisions")
        text = None
        if change is not None:
            text = inputs.clean_text(change, "the change", max_chars=inputs.MAX_CHANGE_CHARS)
        cleaned = inputs.clean_answers(answers, self._parse_answer)
        if not text and not cleaned:
            raise InvalidInput(
                "the change is empty; say what should change, e.g. 'move to eu-west-1'"
            )
        if parent.decision_set.status not in _REVISABLE:
            raise Conflict(
                f"decision set {decision_set_id} is {parent.decision_set.status}; only a"
                " decision set that is paused or decided can be revised"
            )
        if from_seq is None and parent.decision_set.status not in FINAL_STATUSES - {"failed"}:
            raise Conflict(
                f"decision set {decision_set_id} is {parent.decision_set.status}; only an"
                " approved or rejected decision set can be revised (or fork it from one of"
                " its events)"
            )
        base, forked_from = self._base_constraints(parent, from_seq)
        interpretation = None
        if text and base is not None:
            interpretation = self._interpret(text, base)
        ds = parent.decision_set
        initial = MLOpsProjectState(
            decision_set_id=new_id("ds"),
            project_id=ds.project_id,
            request=ds.request if base is not None or not text else f"{ds.request}\n{text}",
            answers=cleaned,
            revision_of=ds.id,
            change_request=text,
            base_constraints=base,
            change_interpretation=interpretation,
            forked_from=forked_from,
        )
        check_deadline("creating the revision")
        self._create(initial)
        self.engine.launch(initial.decision_set_id, "revise")
        return self._read(initial.decision_set_id)

    def _base_constraints(
        self, parent: DecisionSetRecord, from_seq: int | None
    ) -> tuple[ConstraintSchema | None, dict[str, Any] | None]:
        from agentic_mlops.domain import ConstraintSchema

        if from_seq is None:
            constraints = parent.state.get("constraints")
            if constraints is None:
                raise Conflict(
                    f"decision set {parent.decision_set.id} has no constraints to revise"
                )
            return ConstraintSchema.model_validate(constraints), None
        if isinstance(from_seq, bool) or not 0 < from_seq <= inputs.MAX_SEQ:
            raise InvalidInput("from_seq must be the sequence number of one of its events")
        ds_id = parent.decision_set.id
        try:
            event = self.store.get_event(ds_id, from_seq)
        except NotFound:
            raise InvalidInput(
                f"event {from_seq} does not belong to decision set {ds_id}"
            ) from None
        updates = [
            e
            for e in self.store.list_events(ds_id, event_type="constraints-update")
            if e.seq <= event.seq
        ]
        forked = {"decision_set_id": ds_id, "seq": event.seq, "checkpoint_id": event.checkpoint_id}
        if not updates:
            return None, forked
        return ConstraintSchema.model_validate(updates[-1].payload["constraints"]), forked

    def _interpret(self, change: str, base: ConstraintSchema) -> Any:
        from agentic_mlops.domain.state import ChangeInterpretation

        check_deadline("interpreting the change")
        result = self._provider().interpret_feedback(change, base)
        constraints, feedback = result.value
        if not feedback.changes:
            raise InvalidInput(
                f"the change {change!r} changes no constraint; try for example 'move to"
                " eu-west-1' or 'budget is now $800/month'"
            )
        return ChangeInterpretation(
            constraints=constraints,
            feedback=feedback,
            explanation=result.explanation,
            call=result.metadata,
        )

    def resume(self, identity: Identity, decision_set_id: str) -> DecisionSetRead:
        """Continue a run interrupted by a crash (or finish a decided wait).

        Raises:
            NotFound, Forbidden; Conflict on an engine that resumes by itself.
        """
        record = self._readable(identity, decision_set_id)
        identity.require("requester", record.decision_set.project_id, "resume runs")
        self.engine.resume(decision_set_id)
        return self._read(decision_set_id)

    # approvals --------------------------------------------------------------------------

    def decide(
        self,
        identity: Identity,
        decision_set_id: str,
        decision: Decision,
        comment: str | None = None,
        *,
        plan_hash: str | None = None,
    ) -> ApprovalResult:
        """Approve or reject the plan waiting at a decision set's gate (idempotent).

        Raises:
            NotFound: unknown decision set (or not readable by the caller).
            Forbidden: the caller is not an approver of the project.
            AlreadyDecided: a different decision was recorded before.
            StalePlan: ``plan_hash`` names another plan than the one waiting.
            Conflict: the decision set is not waiting for approval.
            InvalidInput: approving a policy-failed plan without a comment.
        """
        record = self._readable(identity, decision_set_id)
        identity.require("approver", record.decision_set.project_id, "approve or reject plans")
        wait = record.wait if record.wait is not None and record.wait.kind == "approval" else None
        return self._decide(identity, record, wait, decision, comment, plan_hash)

    def decide_approval(
        self,
        identity: Identity,
        approval_id: str,
        decision: Decision,
        comment: str | None = None,
        *,
        plan_hash: str | None = None,
    ) -> ApprovalResult:
        """Decide an approval by its id (what a Slack button carries).

        The id comes from a message its clicker can see, so a caller without a role on
        its project is told so (403) rather than "not found".

        Raises:
            NotFound: no approval with that id.
            Forbidden, AlreadyDecided, StalePlan, Conflict, InvalidInput: as :meth:`decide`.
        """
        wait = self.store.get_wait(approval_id)
        if wait.kind != "approval":
            raise NotFound(f"no approval with id {approval_id!r}")
        record = self.store.read_decision_set(wait.decision_set_id)
        identity.require("approver", record.decision_set.project_id, "approve or reject plans")
        latest = record.wait
        if latest is None or latest.id != wait.id:
            raise Conflict(f"approval {approval_id} is no longer the open one")
        return self._decide(identity, record, wait, decision, comment, plan_hash)

    def _decide(
        self,
        identity: Identity,
        record: DecisionSetRecord,
        wait: Wait | None,
        decision: Decision,
        comment: str | None,
        plan_hash: str | None,
    ) -> ApprovalResult:
        ds = record.decision_set
        if wait is not None and wait.status == "decided":
            return self._recorded(ds.id, wait, decision)
        if wait is None or wait.status != "pending":
            if ds.status in FINAL_STATUSES - {"failed"}:
                raise AlreadyDecided(f"decision set {ds.id} was already {ds.status}")
            raise Conflict(f"decision set {ds.id} is not awaiting approval (status: {ds.status})")
        comment = inputs.clean_comment(comment)
        current_hash = wait.request.get("plan_hash")
        if plan_hash is not None and plan_hash != current_hash:
            raise StalePlan(
                f"the plan of decision set {ds.id} changed since it was shown (now"
                f" {str(current_hash)[:12]}); review the current plan and decide again",
                current_plan_hash=current_hash,
            )
        chosen = ApprovalDecision(decision=decision, comment=comment, approver=identity.user)
        _check_justified(wait, chosen)
        check_deadline("recording the decision")
        try:
            decided = self.store.decide_wait(
                wait.id,
                {**chosen.model_dump(mode="json"), "plan_hash": current_hash},
                identity.user,
            )
        except AlreadyDecided:
            # Lost a race with another approver (or a retried request): report what won.
            return self._recorded(ds.id, self.store.get_wait(wait.id), decision)
        self.engine.continue_wait(decided)
        return ApprovalResult(
            decision_set_id=ds.id,
            approval_id=decided.id,
            decision=decision,
            approver=identity.user,
            comment=comment,
            replayed=False,
            status=self.store.get_decision_set(ds.id).status,
            plan_hash=current_hash,
        )

    def _recorded(self, decision_set_id: str, wait: Wait, asked: str) -> ApprovalResult:
        response = wait.response or {}
        recorded = str(response.get("decision"))
        if recorded != asked:
            outcome = _DECIDED.get(recorded, "decided")
            raise AlreadyDecided(
                f"decision set {decision_set_id} was already {outcome} by"
                f" {wait.decided_by}; a different decision cannot replace it"
            )
        return ApprovalResult(
            decision_set_id=decision_set_id,
            approval_id=wait.id,
            decision=recorded,
            approver=str(response.get("approver") or wait.decided_by),
            comment=response.get("comment"),
            replayed=True,
            status=self.store.get_decision_set(decision_set_id).status,
            plan_hash=response.get("plan_hash") or wait.request.get("plan_hash"),
        )

    def approvals(self, identity: Identity) -> list[dict[str, Any]]:
        """The approvals waiting for the caller's decision across their projects, oldest
        first, with cost and policy at a glance."""
        approver_of = [p for p, roles in identity.roles.items() if "approver" in roles]
        if not approver_of:
            return []
        found = self.store.pending_approvals(None if ALL_PROJECTS in approver_of else approver_of)
        return [
            {
                "approval_id": item.wait.id,
                "decision_set_id": item.decision_set.id,
                "project_id": item.decision_set.project_id,
                "project_name": item.project_name,
                "created_at": item.wait.created_at.isoformat(),
                "request": item.decision_set.request,
                "plan": item.wait.request.get("plan"),
                "plan_hash": item.wait.request.get("plan_hash"),
                "region": item.wait.request.get("region"),
                "monthly_total_usd": item.wait.request.get("monthly_total_usd"),
                "budget_monthly_usd": item.wait.request.get("budget_monthly_usd"),
                "policy": item.wait.request.get("policy"),
                "failed_rules": item.wait.request.get("failed_rules", []),
                "technical_verdict": item.wait.request.get("technical_verdict"),
            }
            for item in found
        ]

    # reads --------------------------------------------------------------------------------

    def decision_sets(
        self,
        identity: Identity,
        project_id: str,
        *,
        limit: int = 50,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Summaries of a project's decision sets, newest first."""
        project, _ = self.project(identity, project_id)
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST}")
        if before is not None:
            inputs.clean_id(before, "before")
        records = self.store.list_decision_sets(project.id, limit=limit, before=before)
        return [summary(r) for r in records]

    def revisions(self, identity: Identity, decision_set_id: str) -> list[dict[str, Any]]:
        """Summaries of a decision set's revisions (its children), newest first."""
        parent = self._readable(identity, decision_set_id)
        children = self.store.list_decision_sets(parent_id=parent.decision_set.id, limit=MAX_LIST)
        return [summary(r) for r in children]

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
        self._readable(identity, decision_set_id)
        if not 1 <= limit <= MAX_EVENTS_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
        if not 0 <= after <= inputs.MAX_SEQ:
            raise InvalidInput(f"after must be between 0 and {inputs.MAX_SEQ}")
        if event_type is not None:
            inputs.clean_text(event_type, "type", max_chars=64)
        return self.store.list_events(
            decision_set_id, after=after, limit=limit, event_type=event_type
        )

    def change_summary(self, identity: Identity, decision_set_id: str) -> ChangeSummary:
        """The Change Summary of a decision set against its parent (cached)."""
        record = self._readable(identity, decision_set_id)
        return self.summary_of(record)

    def summary_of(self, record: DecisionSetRecord) -> ChangeSummary:
        """The Change Summary of a record already read and authorised."""
        if not record.state:
            raise Conflict(f"decision set {record.decision_set.id} has not run yet")
        parent = None
        if record.decision_set.parent_id:
            parent = self.store.read_decision_set(record.decision_set.parent_id)
        key = SummaryCache.key(record, parent)
        return self._summaries.get_or_build(
            key, lambda: build_change_summary(record, parent, self.repositories)
        )

    def bundle(
        self, identity: Identity, decision_set_id: str, expires_s: int = 900
    ) -> dict[str, Any]:
        """Where to download the decision set's bundle (presigned S3 URL or local link).

        Raises:
            Conflict: no bundle yet.
        """
        bundle = self._bundle_of(self._readable(identity, decision_set_id))
        return {
            "url": self._download_url(bundle["key"], expires_s),
            "key": bundle["key"],
            "sha256": bundle["sha256"],
            "size": bundle["size"],
            "expires_in": expires_s,
        }

    def files(self, identity: Identity, decision_set_id: str) -> list[dict[str, Any]]:
        """The files of the generated repository (the bundle: sources plus ``reports/``)."""
        from agentic_mlops.artifacts.bundle import read_zip
        from agentic_mlops.canonical import sha256_hex

        bundle = self._bundle_of(self._readable(identity, decision_set_id))
        files = read_zip(self.artifacts.get(bundle["key"]))
        return [
            {"path": path, "size": len(data), "sha256": sha256_hex(data)}
            for path, data in sorted(files.items())
        ]

    def file(self, identity: Identity, decision_set_id: str, path: str) -> dict[str, Any]:
        """One text file of the generated repository.

        Raises:
            NotFound: no such file. InvalidInput: a binary file.
        """
        from agentic_mlops.artifacts.bundle import read_zip
        from agentic_mlops.canonical import sha256_hex

        path = inputs.clean_text(path, "the path", max_chars=1024)
        bundle = self._bundle_of(self._readable(identity, decision_set_id))
        files = read_zip(self.artifacts.get(bundle["key"]))
        if path not in files:
            raise NotFound(f"the repository of {decision_set_id} has no file {path!r}")
        data = files[path]
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path} is not a text file") from None
        return {"path": path, "size": len(data), "sha256": sha256_hex(data), "content": content}

    # internals ------------------------------------------------------------------------------

    def _readable(self, identity: Identity, decision_set_id: str) -> DecisionSetRecord:
        inputs.clean_id(decision_set_id, "the decision set id")
        record = self.store.read_decision_set(decision_set_id)
        if not identity.can_read(record.decision_set.project_id):
            # The same answer as for an id that does not exist: no existence oracle.
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return record

    def _read(self, decision_set_id: str) -> DecisionSetRead:
        return DecisionSetRead(self.store.read_decision_set(decision_set_id))

    @staticmethod
    def _bundle_of(record: DecisionSetRecord) -> dict[str, Any]:
        bundle = record.state.get("bundle")
        if not bundle:
            raise Conflict(
                f"decision set {record.decision_set.id} has no bundle (status:"
                f" {record.decision_set.status}); bundles exist once an approved plan has"
                " been generated and validated"
            )
        return dict(bundle)


def _check_justified(wait: Wait, decision: ApprovalDecision) -> None:
    """Refuse to approve a policy-failed plan without a justification.

    Raises:
        InvalidInput: approval of a policy-failed plan without a comment.
    """
    if (
        decision.decision == "approve"
        and wait.request.get("policy") == "fail"
        and not (decision.comment or "").strip()
    ):
        failed = ", ".join(wait.request.get("failed_rules", []))
        raise InvalidInput(
            f"the plan failed policy ({failed}); approving it needs a comment"
            " giving the justification"
        )


__all__ = ["Decision", "Forbidden", "PlatformService"]
