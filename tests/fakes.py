"""Fakes shared by the tests (importable as ``fakes``: ``tests/`` is on pytest's pythonpath)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentic_mlops.errors import NotFound
from agentic_mlops.persistence.interfaces import Mutation
from agentic_mlops.persistence.models import (
    AgentRun,
    DecisionSet,
    Event,
    NewEvent,
    Project,
    Wait,
)


class FakeStore:
    """Dict-backed store of what the nodes use (:class:`~agentic_mlops.persistence.
    interfaces.NodeStore`): events numbered per decision set, deduped by key; waits by key."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.decision_sets: dict[str, DecisionSet] = {}
        self.events: dict[str, list[Event]] = defaultdict(list)
        self.dedupe_keys: dict[str, list[str]] = defaultdict(list)
        self.runs: dict[str, AgentRun] = {}
        self.waits: dict[tuple[str, str], Wait] = {}

    def get_or_create_project(self, name: str) -> Project:
        if name not in self.projects:
            self.projects[name] = Project(
                id=f"prj-{len(self.projects)}", name=name, created_at=datetime.now(UTC)
            )
        return self.projects[name]

    def create_decision_set(
        self,
        project_id: str,
        request: str,
        parent_id: str | None = None,
        state: dict[str, Any] | None = None,
        decision_set_id: str | None = None,
    ) -> DecisionSet:
        now = datetime.now(UTC)
        decision_set = DecisionSet(
            id=decision_set_id or f"ds-{len(self.decision_sets)}",
            project_id=project_id,
            parent_id=parent_id,
            request=request,
            status="created",
            version=1,
            last_event_seq=0,
            commit_sha=None,
            metadata={},
            created_at=now,
            updated_at=now,
        )
        self.decision_sets[decision_set.id] = decision_set
        return decision_set

    def get_decision_set(self, decision_set_id: str) -> DecisionSet:
        if decision_set_id not in self.decision_sets:
            raise NotFound(f"no decision set with id {decision_set_id!r}")
        return self.decision_sets[decision_set_id]

    def update_decision_set(self, decision_set_id: str, mutate: Mutation) -> DecisionSet:
        current = self.get_decision_set(decision_set_id)
        changes = mutate(current)
        if changes:
            current = current.model_copy(update={**changes, "version": current.version + 1})
            self.decision_sets[decision_set_id] = current
        return current

    def append_events(self, decision_set_id: str, events: Sequence[NewEvent]) -> list[Event]:
        timeline, seen = self.events[decision_set_id], self.dedupe_keys[decision_set_id]
        stored = []
        for event in events:
            if event.dedupe_key in seen:
                continue
            seen.append(event.dedupe_key)
            new = Event(
                decision_set_id=decision_set_id,
                seq=len(timeline) + 1,
                type=event.type,
                node=event.node,
                payload=event.payload,
                step=event.step,
                checkpoint_id=None,
                created_at=datetime.now(UTC),
            )
            timeline.append(new)
            stored.append(new)
        return stored

    def list_events(
        self,
        decision_set_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        event_type: str | None = None,
    ) -> list[Event]:
        found = [
            e
            for e in self.events[decision_set_id]
            if e.seq > after and (event_type is None or e.type == event_type)
        ]
        return found if limit is None else found[:limit]

    def succeeded_output(self, key: str) -> dict[str, Any] | None:
        run = self.runs.get(key)
        return run.output if run is not None and run.status == "succeeded" else None

    def complete_run(self, run: AgentRun, events: Sequence[NewEvent]) -> list[Event]:
        previous = self.runs.get(run.key)
        executions = previous.executions + 1 if previous else run.executions
        self.runs[run.key] = run.model_copy(update={"executions": executions})
        return self.append_events(run.decision_set_id, events)

    def list_runs(self, decision_set_id: str) -> list[AgentRun]:
        return [r for r in self.runs.values() if r.decision_set_id == decision_set_id]

    def open_wait(
        self,
        decision_set_id: str,
        kind: str,
        wait_key: str,
        request: dict[str, Any],
        task_token: str | None = None,
    ) -> Wait:
        key = (decision_set_id, wait_key)
        if key not in self.waits:
            self.waits[key] = Wait(
                id=f"wait-{len(self.waits)}",
                decision_set_id=decision_set_id,
                kind=kind,
                wait_key=wait_key,
                status="pending",
                request=request,
                response=None,
                decided_by=None,
                created_at=datetime.now(UTC),
                decided_at=None,
            )
        return self.waits[key]
