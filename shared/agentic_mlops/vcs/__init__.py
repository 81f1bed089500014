"""Per-project git history of approved plan documents (dulwich, no git binary)."""

from agentic_mlops.vcs.repository import (
    DEFAULT_AUTHOR,
    ProjectRepository,
    RepositoryBusy,
    repository_path,
)

__all__ = ["DEFAULT_AUTHOR", "ProjectRepository", "RepositoryBusy", "repository_path"]
