"""Who acts, with which roles, per project; what an approval decision recorded.

Shared by every entry point (REST, WebSocket, Slack, the CLI): the service authorises
against an :class:`Identity` whatever produced it (authorizer claims, a development token,
a Slack user mapping, the local user of the CLI).

Roles are per project: a *requester* creates decision sets, answers questions and asks
for revisions; an *approver* approves or rejects. Either may read the project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from agentic_mlops.errors import Forbidden

Role = Literal["requester", "approver"]
ROLES: tuple[Role, ...] = ("requester", "approver")
ALL_PROJECTS = "*"


@dataclass(frozen=True)
class Identity:
    """An authenticated caller and their roles, per project (``*`` = every project)."""

    user: str
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def local(cls, user: str) -> Identity:
        """The person at the command line: every role on every project."""
        return cls(user=user, roles={ALL_PROJECTS: frozenset(ROLES)})

    def has(self, role: str, project_id: str) -> bool:
        """Whether the caller holds ``role`` on the project."""
        return role in self.roles.get(project_id, frozenset()) or role in self.roles.get(
            ALL_PROJECTS, frozenset()
        )

    def can_read(self, project_id: str) -> bool:
        """Any role on a project lets one read it."""
        return any(self.has(role, project_id) for role in ROLES)

    def roles_on(self, project_id: str) -> list[str]:
        """The caller's roles on one project, in :data:`ROLES` order."""
        return [role for role in ROLES if self.has(role, project_id)]

    def require(self, role: str, project_id: str, action: str) -> None:
        """Refuse the action unless the caller holds ``role`` on the project.

        Raises:
            Forbidden: the caller lacks the role.
        """
        if not self.has(role, project_id):
            raise Forbidden(
                f"{self.user} may not {action}: it needs the {role} role on {project_id}"
            )

    def grants(self) -> list[str]:
        """The roles as ``PROJECT:ROLE`` strings (for display and storage)."""
        return sorted(f"{p}:{r}" for p, roles in self.roles.items() for r in roles)


def parse_grants(grants: Iterable[str]) -> dict[str, frozenset[str]]:
    """Read ``ROLE`` / ``PROJECT:ROLE`` strings (unknown roles are ignored)."""
    roles: dict[str, set[str]] = {}
    for grant in grants:
        project, _, role = grant.strip().rpartition(":")
        if role in ROLES:
            roles.setdefault(project or ALL_PROJECTS, set()).add(role)
    return {project: frozenset(values) for project, values in roles.items()}


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
    plan_hash: str | None = None
