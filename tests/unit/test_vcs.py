"""The per-project git history of plan documents (dulwich only)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dulwich.repo import Repo

from agentic_mlops.errors import Conflict, InvalidInput, NotFound
from agentic_mlops.vcs import ProjectRepository, repository_path

FIRST = {
    "plan/architecture.md": "# Architecture\n\nBatch training on SageMaker.\n",
    "plan/constraints.json": '{"budget_usd": 500}\n',
    "plan/cost.md": "# Cost\n\n$120/month\n",
    "plan/policy.md": "# Policy\n\nAll rules passed.\n",
    "repo-manifest.json": '{"files": 3}\n',
}
SECOND = {
    "plan/architecture.md": "# Architecture\n\nBatch training on SageMaker Spot.\n",
    "plan/constraints.json": '{"budget_usd": 500}\n',
    "plan/cost.md": "# Cost\n\n$120/month\n",
    "plan/decision-record.md": "# Decision\n\nApproved.\n",
    "repo-manifest.json": '{"files": 3}\n',
}


@pytest.fixture
def repo(tmp_path: Path) -> ProjectRepository:
    return ProjectRepository.open(tmp_path / "project")


def test_open_initialises_a_non_bare_repo_on_main(tmp_path: Path) -> None:
    # Given a missing folder / When the repository is opened
    project = ProjectRepository.open(tmp_path / "new")
    # Then a non-bare repository exists whose HEAD is main, without commits
    raw = Repo(str(tmp_path / "new"))
    assert not raw.bare
    assert raw.refs.read_ref(b"HEAD") == b"ref: refs/heads/main"
    assert project.head() is None
    assert project.log() == []
    # When opened again / Then the same repository is reused
    assert ProjectRepository.open(tmp_path / "new").head() is None


def test_first_commit_has_no_parent_and_exactly_the_files(repo: ProjectRepository) -> None:
    # Given an empty project repository
    # When the first decision set is committed
    ref = repo.commit_decision_set("ds-1", FIRST, message="Plan ds-1", commit_time=1_700_000_000)
    # Then the commit has no parent, lists the files and is recorded for the decision set
    assert ref.parent_sha is None
    assert ref.files == sorted(FIRST)
    assert repo.head() == ref.sha
    assert repo.commit_for("ds-1") == ref.sha
    assert repo.commit_for("ds-unknown") is None
    assert repo.changed_files(None, ref.sha) == [("A", p) for p in sorted(FIRST)]
    # And the working tree holds the documents
    assert (repo.path / "plan/cost.md").read_text() == FIRST["plan/cost.md"]


def test_second_commit_reports_exactly_the_changes(repo: ProjectRepository) -> None:
    # Given a first commit
    first = repo.commit_decision_set("ds-1", FIRST, message="Plan ds-1", commit_time=1_700_000_000)
    # When a second decision set modifies, adds and removes documents
    second = repo.commit_decision_set(
        "ds-2", SECOND, message="Plan ds-2", commit_time=1_700_000_100
    )
    # Then its parent is the first and the changes are exactly those
    assert second.parent_sha == first.sha
    assert second.files == sorted(SECOND)
    assert repo.changed_files(first.sha, second.sha) == [
        ("M", "plan/architecture.md"),
        ("A", "plan/decision-record.md"),
        ("D", "plan/policy.md"),
    ]
    diff = repo.diff(first.sha, second.sha)
    headers = [line for line in diff.splitlines() if line.startswith("diff --git")]
    assert headers == [
        "diff --git a/plan/architecture.md b/plan/architecture.md",
        "diff --git a/plan/decision-record.md b/plan/decision-record.md",
        "diff --git a/plan/policy.md b/plan/policy.md",
    ]
    assert "-Batch training on SageMaker.\n+Batch training on SageMaker Spot." in diff
    assert "+# Decision" in diff
    assert "-# Policy" in diff
    # And the working tree follows: the removed document is gone
    assert not (repo.path / "plan/policy.md").exists()
    assert (repo.path / "plan/decision-record.md").exists()


def test_diff_from_nothing_adds_every_file(repo: ProjectRepository) -> None:
    ref = repo.commit_decision_set("ds-1", FIRST, message="Plan")
    diff = repo.diff(None, ref.sha)
    assert diff.count("diff --git") == len(FIRST)
    assert diff.count("new file mode 100644") == len(FIRST)


def test_commit_is_idempotent_per_decision_set(repo: ProjectRepository) -> None:
    # Given a committed decision set
    first = repo.commit_decision_set("ds-1", FIRST, message="Plan ds-1")
    # When it is committed again, even with other content
    again = repo.commit_decision_set("ds-1", SECOND, message="retry")
    # Then the earlier commit is returned and nothing new was committed
    assert again == first
    assert repo.head() == first.sha
    assert len(repo.log()) == 1


def test_commit_content_is_deterministic_for_a_fixed_time(tmp_path: Path) -> None:
    # Given two fresh repositories / When the same inputs are committed at the same time
    shas = [
        ProjectRepository.open(tmp_path / name)
        .commit_decision_set("ds-1", FIRST, message="Plan", commit_time=1_700_000_000)
        .sha
        for name in ("a", "b")
    ]
    # Then the commits are identical
    assert shas[0] == shas[1]


def test_read_and_log(repo: ProjectRepository) -> None:
    # Given two commits
    first = repo.commit_decision_set("ds-1", FIRST, message="Plan one", commit_time=1_700_000_000)
    second = repo.commit_decision_set("ds-2", SECOND, message="Plan two", commit_time=1_700_000_100)
    # When documents and the log are read
    # Then each commit shows its own version
    assert repo.read(first.sha, "plan/policy.md") == FIRST["plan/policy.md"]
    assert repo.read(second.sha, "plan/architecture.md") == SECOND["plan/architecture.md"]
    with pytest.raises(NotFound):
        repo.read(second.sha, "plan/policy.md")
    with pytest.raises(NotFound):
        repo.read("0" * 40, "plan/cost.md")
    log = repo.log()
    assert [e["sha"] for e in log] == [second.sha, first.sha]
    assert [e["time"] for e in log] == [1_700_000_100, 1_700_000_000]
    assert log[0]["message"].startswith("Plan two")
    assert log[0]["decision_set_id"] == "ds-2"
    assert [e["sha"] for e in repo.log(limit=1)] == [second.sha]


def test_expected_parent_must_match_main(repo: ProjectRepository) -> None:
    # Given a first commit
    first = repo.commit_decision_set("ds-1", FIRST, message="Plan")
    # When committing with a stale expected parent / Then it is a conflict
    with pytest.raises(Conflict):
        repo.commit_decision_set("ds-2", SECOND, message="Plan", parent="f" * 40)
    # When committing with the right parent / Then it lands
    assert repo.commit_decision_set("ds-2", SECOND, message="P", parent=first.sha).parent_sha == (
        first.sha
    )


@pytest.mark.parametrize(
    ("ds_id", "files"),
    [
        ("../x", FIRST),
        ("ds 1", FIRST),
        ("ds-1", {"../escape.md": "x"}),
        ("ds-1", {"/abs.md": "x"}),
        ("ds-1", {".git/config": "x"}),
    ],
)
def test_unsafe_ids_and_paths_are_refused(
    repo: ProjectRepository, ds_id: str, files: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput):
        repo.commit_decision_set(ds_id, files, message="Plan")
    assert repo.head() is None


def test_concurrent_commits_from_two_threads_both_land(tmp_path: Path) -> None:
    # Given one project opened separately by several writers
    path = tmp_path / "project"
    ProjectRepository.open(path)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def commit(index: int) -> None:
        try:
            writer = ProjectRepository.open(path)
            barrier.wait()
            writer.commit_decision_set(
                f"ds-{index}", {**FIRST, "plan/cost.md": f"writer {index}\n"}, message=f"P{index}"
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    # When they commit different decision sets at the same moment
    threads = [threading.Thread(target=commit, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every commit landed: all refs exist and main chains through all of them
    assert errors == []
    _assert_chain(ProjectRepository.open(path), [f"ds-{i}" for i in range(4)])


def test_concurrent_commits_from_two_processes_both_land(tmp_path: Path) -> None:
    # Given two processes committing different decision sets to one project
    path = tmp_path / "project"
    code = (
        "import sys; from pathlib import Path; from agentic_mlops.vcs import ProjectRepository\n"
        "repo = ProjectRepository.open(Path(sys.argv[1]))\n"
        "for i in range(5):\n"
        "    ds = f'{sys.argv[2]}-{i}'\n"
        "    repo.commit_decision_set(ds, {'plan/cost.md': ds}, message=ds)\n"
    )
    ProjectRepository.open(path)
    # When they run at the same time
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), n]) for n in ("a", "b")]
    # Then both succeed and all ten commits are chained on main
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    _assert_chain(ProjectRepository.open(path), [f"{n}-{i}" for n in "ab" for i in range(5)])


def _assert_chain(repo: ProjectRepository, decision_sets: list[str]) -> None:
    """Every decision set has a ref and main's first-parent chain holds exactly them."""
    log = repo.log(limit=100)
    chain = {entry["sha"] for entry in log}
    assert len(log) == len(decision_sets)
    for ds in decision_sets:
        sha = repo.commit_for(ds)
        assert sha in chain, ds
    assert log[-1]["parent"] is None


def test_repository_path_selection(tmp_path: Path) -> None:
    from agentic_mlops.composition import create_repositories
    from agentic_mlops.settings import load_settings

    assert repository_path("p-1", tmp_path / "repos") == tmp_path / "repos" / "p-1"
    with pytest.raises(InvalidInput):
        repository_path("../escape", tmp_path)
    # the settings choose the folder: AGENTIC_MLOPS_REPOS_DIR, else $AGENTIC_MLOPS_HOME/repos
    explicit = load_settings(environ={"AGENTIC_MLOPS_REPOS_DIR": str(tmp_path / "repos")})
    with create_repositories(explicit)("p-1") as repository:
        assert Path(repository.path) == tmp_path / "repos" / "p-1"
    home = load_settings(environ={"AGENTIC_MLOPS_HOME": str(tmp_path / "home")})
    with create_repositories(home)("p-2") as repository:
        assert Path(repository.path) == tmp_path / "home" / "repos" / "p-2"
