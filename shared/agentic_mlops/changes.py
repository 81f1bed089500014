"""The Change Summary of a decision set against its parent (a read model).

Two views of one change: the state diff of the two decision sets' current states
(deepdiff, one entry per changed field: what changed, from, to) and the git diff of the
two commits of the plan documents. It is computed from the read model (no checkpoint is
read) and cached by the versions of both sides.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from agentic_mlops.domain import MLOpsProjectState

if TYPE_CHECKING:
    from agentic_mlops.persistence.models import DecisionSetRecord
    from agentic_mlops.vcs.repository import ProjectRepository

# Bookkeeping that differs between any two decision sets and says nothing about the plan.
_IGNORED_FIELDS = (
    "decision_set_id",
    "revision_of",
    "change_request",
    "base_constraints",
    "change_interpretation",
    "forked_from",
    "evidence",
    "answers",
    "questions",
    "intake_rounds",
    "commit",
)


class FieldChange(BaseModel):
    """One changed field of the state, addressed by a dotted path."""

    path: str
    change: Literal["changed", "added", "removed"]
    old: Any = None
    new: Any = None


class FileChange(BaseModel):
    """One changed file of the plan documents (git status letter and path)."""

    status: str
    path: str


class ChangeSummary(BaseModel):
    """What a decision set changed relative to its parent."""

    decision_set_id: str
    parent_id: str | None
    change_request: str | None
    changed_constraints: list[str] = Field(default_factory=list)
    fields: list[FieldChange] = Field(default_factory=list)
    from_commit: str | None = None
    to_commit: str | None = None
    files: list[FileChange] = Field(default_factory=list)
    git_diff: str = ""


def state_changes(old: MLOpsProjectState | None, new: MLOpsProjectState) -> list[FieldChange]:
    """Return the per-field differences between two states, in path order."""
    from deepdiff import DeepDiff

    before = {} if old is None else _comparable(old)
    after = _comparable(new)
    # timings differ on every run and say nothing about the plan
    diff = DeepDiff(
        before, after, view="tree", verbose_level=2, exclude_regex_paths=[r"\['duration_ms'\]$"]
    )
    changes: list[FieldChange] = []
    for report_type, levels in diff.items():
        kind = _kind(report_type)
        for level in levels:
            changes.append(
                FieldChange(
                    path=_dotted(level.path(output_format="list")),
                    change=kind,
                    old=None if kind == "added" else _plain(level.t1),
                    new=None if kind == "removed" else _plain(level.t2),
                )
            )
    return sorted(changes, key=lambda c: c.path)


def changed_constraint_fields(changes: list[FieldChange]) -> list[str]:
    """Return the constraint fields named by the changes (``constraints.region`` -> region)."""
    names = {
        change.path.split(".")[1].split("[")[0]
        for change in changes
        if change.path.startswith("constraints.")
    }
    return sorted(names)


def _comparable(state: MLOpsProjectState) -> dict[str, Any]:
    return _keyed(state.model_dump(mode="json", exclude=set(_IGNORED_FIELDS)))


# Lists whose items have an identity are compared by it, not by position, so that a
# reordered list of findings is not reported as every finding changing.
_IDENTITY_KEYS = ("id", "rule_id", "path", "name")


def _keyed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _keyed(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_keyed(item) for item in value]
        identity = _identity_of(items)
        if identity is None:
            return items
        return {f"[{identity(item)}]": item for item in items}
    return value


def _identity_of(items: list[Any]) -> Any:
    """Return a function giving each item a unique identity, if the items have one."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    candidates = [lambda item, key=key: item.get(key) for key in _IDENTITY_KEYS] + [
        lambda item: f"{item.get('component_id')}: {item.get('description')}"
    ]
    for identity in candidates:
        names = [identity(item) for item in items]
        if None not in names and "None: None" not in names and len(set(names)) == len(names):
            return identity
    return None


def _kind(report_type: str) -> Literal["changed", "added", "removed"]:
    if report_type.endswith("_added"):
        return "added"
    if report_type.endswith("_removed"):
        return "removed"
    return "changed"


def _dotted(parts: list[Any]) -> str:
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith("["):  # an item of a list keyed by its identity
            path += str(part)
        else:
            path += f".{part}" if path else str(part)
    return path


def _plain(value: Any) -> Any:
    """deepdiff's 'not present' marker becomes None."""
    return None if type(value).__name__ == "NotPresent" else value


def build_change_summary(
    child: DecisionSetRecord,
    parent: DecisionSetRecord | None,
    repositories: Callable[[str], ProjectRepository] | None,
) -> ChangeSummary:
    """The Change Summary of ``child`` against ``parent`` (its states and commits)."""
    ds = child.decision_set
    state = MLOpsProjectState.model_validate(child.state)
    parent_state = MLOpsProjectState.model_validate(parent.state) if parent else None
    parent_commit = parent.decision_set.commit_sha if parent else None
    fields = state_changes(parent_state, state) if parent_state else []
    summary = ChangeSummary(
        decision_set_id=ds.id,
        parent_id=ds.parent_id,
        change_request=state.change_request,
        changed_constraints=changed_constraint_fields(fields),
        fields=fields,
        from_commit=parent_commit,
        to_commit=ds.commit_sha,
    )
    if ds.commit_sha and repositories is not None:
        with repositories(ds.project_id) as repository:
            summary.files = [
                FileChange(status=status, path=path)
                for status, path in repository.changed_files(parent_commit, ds.commit_sha)
            ]
            summary.git_diff = repository.diff(parent_commit, ds.commit_sha)
    return summary


class SummaryCache:
    """Change Summaries by the versions of both sides (last event and commit of each)."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple[Any, ...], ChangeSummary] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    @staticmethod
    def key(child: DecisionSetRecord, parent: DecisionSetRecord | None) -> tuple[Any, ...]:
        """What identifies a summary: both decision sets as they stand."""
        sides = [child] if parent is None else [child, parent]
        return tuple(
            (r.decision_set.id, r.decision_set.last_event_seq, r.decision_set.commit_sha)
            for r in sides
        )

    def get_or_build(
        self, key: tuple[Any, ...], build: Callable[[], ChangeSummary]
    ) -> ChangeSummary:
        """The cached summary for ``key``, built once."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        summary = build()
        with self._lock:
            self._items[key] = summary
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return summary
