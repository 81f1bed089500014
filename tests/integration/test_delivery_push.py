"""Delivery into the team's repository: a push to a local smart-HTTP git server (dulwich)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.repo import Repo
from git_server import TOKEN, USER, serve_git

from agentic_mlops.errors import InvalidInput
from agentic_mlops.settings import load_settings
from agentic_mlops.vcs.config import DeliverySettings
from agentic_mlops.vcs.remote import DeliveryFailed, push_repository

FILES = {"README.md": "# churn\n", "pipelines/train.py": "VALUE = 1\n"}


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[str, Repo]]:
    """A bare repository served over smart HTTP, behind basic authentication."""
    with serve_git(tmp_path) as served:
        yield served


def settings(url: str, token: str = TOKEN) -> DeliverySettings:
    return DeliverySettings(remote_url=url, username=USER, token=token)


def test_delivery_is_off_by_default() -> None:
    assert load_settings(("delivery",), environ={}).delivery.enabled is False
    with pytest.raises(InvalidInput):
        push_repository(FILES, settings=DeliverySettings(), branch="b", subject="s")


def test_settings_are_read_once_from_the_environment() -> None:
    env = {
        "AGENTIC_MLOPS_DELIVERY_REMOTE": "https://git.example.com/team/ml.git",
        "AGENTIC_MLOPS_DELIVERY_TOKEN": TOKEN,
        "AGENTIC_MLOPS_DELIVERY_BRANCH_PREFIX": "ml/",
    }
    read = load_settings(("delivery",), environ=env).delivery
    assert read.enabled and read.branch_prefix == "ml/"
    assert read.credentials() == ("x-access-token", TOKEN)
    assert TOKEN not in repr(read)


def test_the_repository_is_pushed_as_a_branch_with_the_decision_record(remote, caplog) -> None:
    url, repo = remote
    caplog.set_level(logging.DEBUG)
    pushed = push_repository(
        FILES,
        settings=settings(url),
        branch="agentic-mlops/ds-1",
        subject="churn: decision set ds-1",
        body="# Decision record\n\nApproved by alice.",
        timestamp=1_700_000_000,
    )
    assert pushed.created and pushed.branch == "agentic-mlops/ds-1"
    commit = repo[repo.refs[b"refs/heads/agentic-mlops/ds-1"]]
    assert commit.id.decode() == pushed.sha
    assert commit.message.decode().startswith("churn: decision set ds-1\n\n# Decision record")
    tree = repo[commit.tree]
    assert {name.decode() for name, _, _ in tree.iteritems()} == {"README.md", "pipelines"}
    assert TOKEN not in caplog.text

    again = push_repository(FILES, settings=settings(url), branch="agentic-mlops/ds-1", subject="x")
    assert (again.created, again.sha) == (False, pushed.sha)  # same files: nothing new

    changed = push_repository(
        {**FILES, "README.md": "# churn v2\n"},
        settings=settings(url),
        branch="agentic-mlops/ds-1",
        subject="churn: revision",
    )
    assert changed.created and repo[changed.sha.encode()].parents == [pushed.sha.encode()]


def test_refused_credentials_fail_without_showing_them(remote, caplog) -> None:
    url, _ = remote
    caplog.set_level(logging.DEBUG)
    wrong = "tok-wrong-0000-secret"
    with pytest.raises(DeliveryFailed) as failure:
        push_repository(FILES, settings=settings(url, wrong), branch="b", subject="s")
    assert wrong not in str(failure.value) and wrong not in caplog.text
    assert url in str(failure.value)


def test_credentials_in_the_url_are_redacted(remote) -> None:
    url, _ = remote
    with_user = url.replace("http://", f"http://{USER}:{TOKEN}@")
    with pytest.raises(DeliveryFailed) as failure:
        push_repository(
            FILES,
            settings=DeliverySettings(remote_url=with_user, token="other-wrong-token"),
            branch="b",
            subject="s",
        )
    assert TOKEN not in str(failure.value) and "other-wrong-token" not in str(failure.value)
