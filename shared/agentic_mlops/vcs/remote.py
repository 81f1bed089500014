"""Delivery into the team's repository: the generated repository pushed as a branch.

Opt-in (off unless a remote is configured). The generated files become one commit on the
branch ``{prefix}{decision set id}`` of the configured remote, pushed with dulwich over
HTTP(S) (or SSH through the system's ``ssh``, with its keys and agent), with the decision
record as the commit message body. Pushing the same files again is a no-op (the branch's
tree is compared first); new files on an existing branch become a child commit. The
credentials come from the settings (or a Secrets Manager secret) and never reach a log,
an error message or the returned reference.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from dulwich.client import get_transport_and_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import MemoryRepo

from agentic_mlops.artifacts.bundle import normalize_path
from agentic_mlops.domain.delivery import PushRef
from agentic_mlops.errors import InvalidInput
from agentic_mlops.vcs.config import DeliverySettings

logger = logging.getLogger(__name__)

FILE_MODE = 0o100644
DIR_MODE = 0o040000
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


class DeliveryFailed(RuntimeError):
    """The push to the team's repository failed (the message holds no credentials)."""


def redact(text: str, *secrets: str | None) -> str:
    """Remove credentials from ``text``: the given values and any ``user:pass@`` of a URL."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return _URL_CREDENTIALS.sub("<redacted>@", text)


def build_commit(
    repo: MemoryRepo,
    files: Mapping[str, str | bytes],
    *,
    message: str,
    author: str,
    parent: bytes | None,
    timestamp: int,
) -> Commit:
    """Add the files' blobs and trees to ``repo`` and return their commit (not yet stored).

    Args:
        repo: The in-memory repository that receives the objects.
        files: POSIX relative path -> content.
        message: The commit message.
        author: Author and committer.
        parent: The parent commit, or None for the first commit of the branch.
        timestamp: Commit time (seconds since the epoch, UTC).

    Returns:
        The commit, whose tree holds exactly ``files``.

    Raises:
        InvalidInput: if a path is unsafe.
    """
    root: dict[str, Any] = {}
    for path, content in sorted(files.items()):
        try:
            parts = normalize_path(path).split("/")
        except Exception as exc:
            raise InvalidInput(f"unsafe path in the generated repository: {path!r}") from exc
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        data = content.encode("utf-8") if isinstance(content, str) else content
        blob = Blob.from_string(data)
        repo.object_store.add_object(blob)
        node[parts[-1]] = blob.id

    def store(node: dict[str, Any]) -> bytes:
        tree = Tree()
        for name, value in sorted(node.items()):
            if isinstance(value, dict):
                tree.add(name.encode("utf-8"), DIR_MODE, store(value))
            else:
                tree.add(name.encode("utf-8"), FILE_MODE, value)
        repo.object_store.add_object(tree)
        return tree.id

    commit = Commit()
    commit.tree = store(root)
    commit.parents = [parent] if parent else []
    commit.author = commit.committer = author.encode("utf-8")
    commit.author_time = commit.commit_time = timestamp
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode("utf-8")
    return commit


def push_repository(
    files: Mapping[str, str | bytes],
    *,
    settings: DeliverySettings,
    branch: str,
    subject: str,
    body: str = "",
    secrets_client: Any = None,
    timestamp: int | None = None,
) -> PushRef:
    """Push the generated repository as ``branch`` of the configured remote.

    Args:
        files: The generated repository, POSIX relative path -> content.
        settings: The delivery settings (must be enabled).
        branch: The branch name (``refs/heads/`` is added).
        subject: The commit message's first line.
        body: The commit message body (the decision record).
        secrets_client: A Secrets Manager client (for ``token_secret``), for tests.
        timestamp: Commit time (default: now).

    Returns:
        Where the commit went; ``created`` is False when the branch already held the files.

    Raises:
        InvalidInput: if delivery is off or the branch name is invalid.
        DeliveryFailed: if the remote could not be read or refused the push.
    """
    if not settings.enabled or settings.remote_url is None:
        raise InvalidInput(
            "delivery is off: set AGENTIC_MLOPS_DELIVERY_REMOTE to push the repository"
        )
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", branch) or ".." in branch or branch.endswith("/"):
        raise InvalidInput(f"invalid branch name {branch!r}")
    username, password = settings.credentials(secrets_client)
    url = settings.remote_url
    where = redact(url, password)
    ref = f"refs/heads/{branch}".encode()
    try:
        client, path = get_transport_and_path(url, username=username, password=password)
        repo = MemoryRepo()
        remote_head = _remote_head(client, path, repo, ref)
        commit = build_commit(
            repo,
            files,
            message=subject.strip() + ("\n\n" + body.strip() if body.strip() else "") + "\n",
            author=settings.author,
            parent=remote_head,
            timestamp=int(time.time()) if timestamp is None else timestamp,
        )
        if remote_head is not None and repo[remote_head].tree == commit.tree:
            logger.info("delivery: %s already holds these files on %s", where, branch)
            return PushRef(remote=where, branch=branch, sha=remote_head.decode(), created=False)
        repo.object_store.add_object(commit)
        repo.refs[ref] = commit.id
        result = client.send_pack(
            path,
            lambda refs: {**refs, ref: commit.id},
            generate_pack_data=repo.generate_pack_data,
        )
    except (InvalidInput, DeliveryFailed):
        raise
    except Exception as exc:  # transport errors carry URLs; never let credentials through
        message = redact(f"{type(exc).__name__}: {exc}", password, username and f"{username}:")
        raise DeliveryFailed(f"pushing to {where} failed: {message}") from None
    refused = (getattr(result, "ref_status", None) or {}).get(ref)
    if refused:
        raise DeliveryFailed(f"{where} refused {branch}: {redact(str(refused), password)}")
    logger.info("delivery: pushed %s to %s (%s)", branch, where, commit.id.decode()[:12])
    return PushRef(remote=where, branch=branch, sha=commit.id.decode(), created=True)


def _remote_head(client: Any, path: str, repo: MemoryRepo, ref: bytes) -> bytes | None:
    """Fetch ``ref`` of the remote into ``repo`` and return its commit, or None if absent."""
    refs = client.get_refs(path)
    refs = getattr(refs, "refs", refs)
    head = refs.get(ref)
    if head is None:
        return None
    client.fetch(path, repo, determine_wants=lambda _refs, depth=None: [head])
    return head
