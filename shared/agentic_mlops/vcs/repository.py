"""A per-project git history of approved plan documents, written with dulwich (no git binary).

Each approved decision set becomes one commit on ``main`` whose tree is exactly the plan
documents, plus a ref ``refs/decision-sets/{id}`` so committing the same decision set again
returns the earlier commit. A ``flock`` on a file inside ``.git`` serialises commits from
threads and processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.index import commit_tree, update_working_tree
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.patch import write_tree_diff
from dulwich.repo import Repo

from agentic_mlops.artifacts.bundle import UnsafePath, normalize_path
from agentic_mlops.domain.delivery import CommitRef
from agentic_mlops.errors import Conflict, InvalidInput, NotFound
from agentic_mlops.vcs.config import DEFAULT_AUTHOR

MAIN_REF = b"refs/heads/main"
DECISION_REF_PREFIX = "refs/decision-sets/"
TRAILER = "Decision-Set"
LOCK_NAME = "agentic-mlops.lock"
LOCK_TIMEOUT_S = 60.0
FILE_MODE = 0o100644

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_AUTHOR = re.compile(r"^[^<>\n]+ <[^<>\n]*>$")
_STATUS = {"add": "A", "modify": "M", "delete": "D"}


class RepositoryBusy(Conflict):
    """Another process held the project repository's lock for too long."""

    code = "repository_busy"


def _safe_id(value: str, what: str) -> str:
    """Return ``value`` when it is usable in a ref name and a folder name."""
    if not isinstance(value, str) or not _SAFE_ID.match(value) or ".." in value:
        raise InvalidInput(f"{what} must be letters, digits, '.', '_' or '-': {value!r}")
    if value.endswith((".lock", ".")):
        raise InvalidInput(f"{what} must not end with '.lock' or '.': {value!r}")
    return value


def repository_path(project_id: str, root: Path) -> Path:
    """Return the folder of a project's repository: ``root/{project_id}``.

    Raises:
        InvalidInput: if ``project_id`` is not a safe folder name.
    """
    _safe_id(project_id, "project id")
    return root.expanduser() / project_id


def repositories_under(root: Path) -> Callable[[str], ProjectRepository]:
    """A factory opening each project's repository under ``root``."""

    def open_repository(project_id: str) -> ProjectRepository:
        return ProjectRepository.open(repository_path(project_id, root))

    return open_repository


def _encode_files(files: Mapping[str, str | bytes]) -> dict[bytes, bytes]:
    """Normalise paths and encode contents; refuse unsafe or duplicate paths."""
    encoded: dict[bytes, bytes] = {}
    for raw_path, content in files.items():
        try:
            path = normalize_path(raw_path).encode("utf-8")
        except UnsafePath as exc:
            raise InvalidInput(str(exc)) from exc
        if path.split(b"/")[0] == b".git" or path in encoded:
            raise InvalidInput(f"path not allowed or duplicated: {raw_path!r}")
        encoded[path] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    return encoded


def _message_with_trailer(message: str, decision_set_id: str) -> bytes:
    """Return the commit message ending with a ``Decision-Set:`` trailer."""
    body = message.strip() or f"Decision set {decision_set_id}"
    return f"{body}\n\n{TRAILER}: {decision_set_id}\n".encode()


def _trailer_of(message: bytes) -> str | None:
    """Return the decision set id recorded in a commit message, if any."""
    lines = message.decode("utf-8", "replace").strip().splitlines()
    prefix = f"{TRAILER}: "
    if lines and lines[-1].startswith(prefix):
        return lines[-1][len(prefix) :].strip()
    return None


class ProjectRepository:
    """One project's git repository of plan documents (non-bare, default branch ``main``)."""

    def __init__(self, path: Path, repo: Repo) -> None:
        """Wrap an opened dulwich ``repo`` at ``path``; use :meth:`open` instead."""
        self.path = path
        self._repo = repo

    @classmethod
    def open(cls, path: Path) -> ProjectRepository:
        """Open the repository at ``path``, initialising it (branch ``main``) when missing.

        Args:
            path: the working-tree folder; created when missing.
        """
        path = Path(path).expanduser()
        if not (path / ".git").exists():
            path.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                Repo.init(str(path), default_branch=b"main").close()
        return cls(path, Repo(str(path)))

    def close(self) -> None:
        """Release the repository's open files."""
        self._repo.close()

    def __enter__(self) -> ProjectRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- refs -------------------------------------------------------------------------

    def _ref(self, name: bytes) -> str | None:
        """Return the sha a ref points at, or None."""
        try:
            return self._repo.refs[name].decode("ascii")
        except KeyError:
            return None

    def head(self) -> str | None:
        """Return the sha of ``main``, or None before the first commit."""
        return self._ref(MAIN_REF)

    def commit_for(self, decision_set_id: str) -> str | None:
        """Return the commit recorded for a decision set, or None."""
        return self._ref(_decision_ref(decision_set_id))

    # -- objects ----------------------------------------------------------------------

    def _commit(self, sha: str) -> Commit:
        """Return the commit object ``sha``.

        Raises:
            NotFound: if ``sha`` names no commit.
        """
        try:
            obj = self._repo[sha.encode("ascii")]
        except (KeyError, ValueError, UnicodeEncodeError) as exc:
            raise NotFound(f"no commit {sha}") from exc
        if not isinstance(obj, Commit):
            raise NotFound(f"{sha} is not a commit")
        return obj

    def _tree_of(self, sha: str | None) -> bytes | None:
        """Return the tree id of commit ``sha`` (None for None)."""
        return None if sha is None else self._commit(sha).tree

    def _tree_paths(self, tree_id: bytes) -> list[str]:
        """Return the sorted file paths of a tree."""
        entries = self._repo.object_store.iter_tree_contents(tree_id)
        return sorted(entry.path.decode("utf-8") for entry in entries)

    def commit_ref(self, sha: str) -> CommitRef:
        """Return the CommitRef (sha, first parent, files) of commit ``sha``.

        Raises:
            NotFound: if ``sha`` names no commit.
        """
        commit = self._commit(sha)
        parent = commit.parents[0].decode("ascii") if commit.parents else None
        return CommitRef(sha=sha, parent_sha=parent, files=self._tree_paths(commit.tree))

    # -- committing -------------------------------------------------------------------

    def commit_decision_set(
        self,
        decision_set_id: str,
        files: Mapping[str, str | bytes],
        *,
        message: str,
        author: str = DEFAULT_AUTHOR,
        parent: str | None = None,
        commit_time: int | None = None,
    ) -> CommitRef:
        """Commit exactly ``files`` on ``main`` for a decision set, once.

        Args:
            decision_set_id: recorded as ``refs/decision-sets/{id}`` and a message trailer.
            files: the complete set of tracked documents (path to text).
            message: the commit message.
            author: ``"Name <email>"``, used as author and committer.
            parent: when given, the expected current head of ``main``.
            commit_time: seconds since the epoch (UTC); now when None.

        Returns:
            The new commit, or the earlier one when the decision set was already committed.

        Raises:
            InvalidInput: for an unsafe path, id or author.
            Conflict: if ``parent`` is given and ``main`` has moved on.
            RepositoryBusy: if the lock could not be taken within a minute.
        """
        ref = _decision_ref(decision_set_id)
        if not _AUTHOR.match(author):
            raise InvalidInput(f"author must look like 'Name <email>': {author!r}")
        encoded = _encode_files(files)
        existing = self._ref(ref)
        if existing:
            return self.commit_ref(existing)
        with self._locked():
            existing = self._ref(ref) or self._head_commit_for(decision_set_id)
            if existing:
                self._repo.refs.add_if_new(ref, existing.encode("ascii"))
                return self.commit_ref(existing)
            head = self.head()
            if parent is not None and parent != head:
                raise Conflict(f"main is at {head}, not at the expected parent {parent}")
            stamp = int(time.time()) if commit_time is None else int(commit_time)
            message_bytes = _message_with_trailer(message, decision_set_id)
            sha = self._write_commit(encoded, head, message_bytes, author.encode(), stamp)
            self._advance_main(head, sha)
            self._repo.refs.add_if_new(ref, sha.encode("ascii"))
        return self.commit_ref(sha)

    def _head_commit_for(self, decision_set_id: str) -> str | None:
        """Return main's head when it already carries this decision set (crash recovery)."""
        head = self.head()
        if head and _trailer_of(self._commit(head).message) == decision_set_id:
            return head
        return None

    def _write_commit(
        self, files: dict[bytes, bytes], head: str | None, message: bytes, author: bytes, stamp: int
    ) -> str:
        """Store blobs, trees and the commit object; return the commit sha."""
        store = self._repo.object_store
        entries = []
        for path, content in sorted(files.items()):
            blob = Blob.from_string(content)
            store.add_object(blob)
            entries.append((path, blob.id, FILE_MODE))
        tree_id = commit_tree(store, entries) if entries else self._empty_tree()
        commit = Commit()
        commit.tree = tree_id
        commit.parents = [head.encode("ascii")] if head else []
        commit.author = commit.committer = author
        commit.author_time = commit.commit_time = stamp
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message
        store.add_object(commit)
        return commit.id.decode("ascii")

    def _empty_tree(self) -> bytes:
        tree = Tree()
        self._repo.object_store.add_object(tree)
        return tree.id

    def _advance_main(self, head: str | None, sha: str) -> None:
        """Move ``main`` from ``head`` to ``sha`` atomically, then sync the working tree."""
        new = sha.encode("ascii")
        if head is None:
            moved = self._repo.refs.add_if_new(MAIN_REF, new)
        else:
            moved = self._repo.refs.set_if_equals(MAIN_REF, head.encode("ascii"), new)
        if not moved:
            raise Conflict("main moved during the commit; retry")
        self._checkout(self._tree_of(head), self._commit(sha).tree)

    def _checkout(self, old_tree: bytes | None, new_tree: bytes) -> None:
        """Make the working tree and index match ``new_tree``."""
        changes = tree_changes(self._repo.object_store, old_tree, new_tree)
        update_working_tree(
            self._repo, old_tree, new_tree, change_iterator=changes, allow_overwrite_modified=True
        )

    @contextlib.contextmanager
    def _locked(self, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold an exclusive ``flock`` on ``.git/agentic-mlops.lock`` (threads and processes)."""
        lock_path = Path(self._repo.controldir()) / LOCK_NAME
        with open(lock_path, "a+b") as handle:
            _acquire(handle.fileno(), timeout_s, lock_path)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- reading ----------------------------------------------------------------------

    def changed_files(self, old_sha: str | None, new_sha: str) -> list[tuple[str, str]]:
        """Return ``(status, path)`` pairs (``A``, ``M`` or ``D``) between two commits.

        Args:
            old_sha: the older commit; None means an empty tree (everything added).
            new_sha: the newer commit.
        """
        changes = tree_changes(
            self._repo.object_store, self._tree_of(old_sha), self._tree_of(new_sha)
        )
        result = []
        for change in changes:
            entry = change.new if change.type != "delete" else change.old
            result.append((_STATUS.get(change.type, "M"), entry.path.decode("utf-8")))
        return sorted(result, key=lambda item: item[1])

    def diff(self, old_sha: str | None, new_sha: str) -> str:
        """Return a git-style unified diff (``diff --git a/... b/...``) between two commits.

        Args:
            old_sha: the older commit; None means an empty tree (everything added).
            new_sha: the newer commit.
        """
        buffer = io.BytesIO()
        write_tree_diff(
            buffer, self._repo.object_store, self._tree_of(old_sha), self._tree_of(new_sha)
        )
        return buffer.getvalue().decode("utf-8", "replace")

    def read(self, sha: str, path: str) -> str:
        """Return the text of ``path`` in commit ``sha``.

        Raises:
            NotFound: if the commit or the path does not exist.
        """
        tree = self._commit(sha).tree
        try:
            _mode, blob_id = tree_lookup_path(self._repo.__getitem__, tree, path.encode())
            blob = self._repo[blob_id]
        except KeyError as exc:
            raise NotFound(f"no {path} in commit {sha}") from exc
        if not isinstance(blob, Blob):
            raise NotFound(f"{path} is not a file in commit {sha}")
        return blob.data.decode("utf-8")

    def log(self, limit: int = 20) -> list[dict[str, Any]]:
        """Return the newest ``limit`` commits of ``main`` (first-parent), newest first.

        Each entry has ``sha``, ``parent``, ``message``, ``author``, ``time`` (epoch seconds)
        and ``decision_set_id`` (from the commit's trailer, or None).
        """
        entries: list[dict[str, Any]] = []
        sha = self.head()
        while sha and len(entries) < limit:
            commit = self._commit(sha)
            parent = commit.parents[0].decode("ascii") if commit.parents else None
            entries.append(
                {
                    "sha": sha,
                    "parent": parent,
                    "message": commit.message.decode("utf-8", "replace"),
                    "author": commit.author.decode("utf-8", "replace"),
                    "time": commit.commit_time,
                    "decision_set_id": _trailer_of(commit.message),
                }
            )
            sha = parent
        return entries


def _decision_ref(decision_set_id: str) -> bytes:
    """Return the ref name recording a decision set's commit."""
    return (DECISION_REF_PREFIX + _safe_id(decision_set_id, "decision set id")).encode()


def _acquire(fd: int, timeout_s: float, lock_path: Path) -> None:
    """Take an exclusive ``flock`` on ``fd``, polling until ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError as exc:
            if time.monotonic() >= deadline:
                raise RepositoryBusy(f"{lock_path} is held by another writer") from exc
            time.sleep(0.02)
