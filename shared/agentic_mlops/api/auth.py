"""Who is calling, and what they may do.

Identities come from two places:

- in AWS, the claims API Gateway's authorizer put on the request (Cognito user pool or a
  JWT authorizer); roles are read from the ``cognito:groups`` claim (or a ``roles``
  claim), each group being ``ROLE`` (every project) or ``PROJECT:ROLE``;
- locally, signed development tokens issued by ``agentic-mlops dev-token`` (HS256 JWTs
  signed with a secret kept in ``$AGENTIC_MLOPS_HOME/dev-token-secret`` or given by
  ``AGENTIC_MLOPS_DEV_TOKEN_SECRET``), sent as ``Authorization: Bearer TOKEN`` (or
  ``?token=`` on the WebSocket, since browsers cannot set headers there).

Roles are per project: a *requester* creates decision sets, answers questions and asks
for revisions; an *approver* approves or rejects. Either may read the project.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentic_mlops.errors import PlatformError

Role = Literal["requester", "approver"]
ROLES: tuple[Role, ...] = ("requester", "approver")
ALL_PROJECTS = "*"
SECRET_ENV = "AGENTIC_MLOPS_DEV_TOKEN_SECRET"
AUTH_MODE_ENV = "AGENTIC_MLOPS_AUTH"
ISSUER = "agentic-mlops-dev"
DEFAULT_TTL_S = 12 * 3600


class Unauthenticated(PlatformError):
    """No identity, or one that cannot be verified (HTTP 401)."""

    code = "unauthenticated"


class Forbidden(PlatformError):
    """A known identity without the role the action needs (HTTP 403)."""

    code = "forbidden"


@dataclass(frozen=True)
class Identity:
    """An authenticated caller and their roles, per project (``*`` = every project)."""

    user: str
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def has(self, role: str, project_id: str) -> bool:
        """Whether the caller holds ``role`` on the project."""
        return role in self.roles.get(project_id, frozenset()) or role in self.roles.get(
            ALL_PROJECTS, frozenset()
        )

    def can_read(self, project_id: str) -> bool:
        """Any role on a project lets one read it."""
        return any(self.has(role, project_id) for role in ROLES)

    def require(self, role: str, project_id: str, action: str) -> None:
        """Refuse the action unless the caller holds ``role`` on the project.

        Raises:
            Forbidden: the caller lacks the role.
        """
        if not self.has(role, project_id):
            raise Forbidden(
                f"{self.user} may not {action}: it needs the {role} role on {project_id}"
            )

    def require_read(self, project_id: str) -> None:
        """Refuse unless the caller holds some role on the project.

        Raises:
            Forbidden: the caller has no role on the project.
        """
        if not self.can_read(project_id):
            raise Forbidden(f"{self.user} has no role on project {project_id}")

    def grants(self) -> list[str]:
        """The roles as ``PROJECT:ROLE`` strings (for display)."""
        return sorted(f"{p}:{r}" for p, roles in self.roles.items() for r in roles)


def parse_grants(grants: Iterable[str]) -> dict[str, frozenset[str]]:
    """Read ``ROLE`` / ``PROJECT:ROLE`` strings (unknown roles are ignored)."""
    roles: dict[str, set[str]] = {}
    for grant in grants:
        project, _, role = grant.strip().rpartition(":")
        if role in ROLES:
            roles.setdefault(project or ALL_PROJECTS, set()).add(role)
    return {project: frozenset(values) for project, values in roles.items()}


# development tokens ---------------------------------------------------------------------


def dev_secret(env: Mapping[str, str] | None = None) -> str:
    """The development-token secret: from the environment, else a file created once."""
    env = os.environ if env is None else env
    if env.get(SECRET_ENV):
        return env[SECRET_ENV]
    home = Path(env.get("AGENTIC_MLOPS_HOME") or Path.home() / ".agentic-mlops")
    path = home / "dev-token-secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def issue_dev_token(
    user: str,
    roles: Iterable[str],
    project: str | None = None,
    *,
    ttl_s: int = DEFAULT_TTL_S,
    secret: str | None = None,
    now: float | None = None,
) -> str:
    """Sign a development token for ``user`` with ``roles`` on ``project`` (or every one)."""
    import jwt

    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"roles must be among {', '.join(ROLES)}")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": ISSUER,
        "sub": user,
        "iat": issued,
        "exp": issued + ttl_s,
        "roles": [f"{project}:{r}" if project else r for r in roles],
    }
    return jwt.encode(claims, secret or dev_secret(), algorithm="HS256")


def verify_dev_token(token: str, *, secret: str | None = None) -> Identity:
    """Check a development token's signature and expiry.

    Raises:
        Unauthenticated: a forged, expired or malformed token.
    """
    import jwt

    try:
        claims = jwt.decode(
            token,
            secret or dev_secret(),
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the token has expired; issue a new one") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("the token is not valid") from exc
    return Identity(user=str(claims["sub"]), roles=parse_grants(claims.get("roles") or []))


def identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    """An identity from an API Gateway authorizer's claims (Cognito or JWT authorizer).

    Raises:
        Unauthenticated: no subject in the claims.
    """
    user = claims.get("email") or claims.get("cognito:username") or claims.get("sub")
    if not user:
        raise Unauthenticated("the authorizer passed no user")
    groups = claims.get("cognito:groups") or claims.get("roles") or []
    if isinstance(groups, str):
        # REST authorizers flatten lists to "[a, b]" or "a,b" strings.
        groups = [g for g in groups.strip("[]").replace(" ", ",").split(",") if g]
    return Identity(user=str(user), roles=parse_grants(groups))


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (case-insensitive)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value:
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def authenticate(event: Mapping[str, Any], *, query_token: bool = False) -> Identity:
    """The caller of an API Gateway proxy event (REST or WebSocket).

    The authorizer's claims win when present (AWS); otherwise a development token from
    the ``Authorization`` header, or from the ``token`` query parameter when
    ``query_token`` is set (WebSocket ``$connect``). Development tokens are refused when
    ``AGENTIC_MLOPS_AUTH=claims`` (set it in AWS).

    Raises:
        Unauthenticated: no usable identity.
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or (authorizer.get("jwt") or {}).get("claims")
    if not claims and authorizer.get("principalId"):
        # A Lambda authorizer (the WebSocket $connect one): flat context values.
        claims = {"sub": authorizer["principalId"], "roles": authorizer.get("roles") or []}
    if claims:
        return identity_from_claims(claims)
    if os.environ.get(AUTH_MODE_ENV, "dev") == "claims":
        raise Unauthenticated("no authorizer claims on the request")
    token = bearer_token(event.get("headers"))
    if token is None and query_token:
        token = (event.get("queryStringParameters") or {}).get("token")
    if not token:
        raise Unauthenticated(
            "missing credentials: send 'Authorization: Bearer TOKEN' (issue one with"
            " agentic-mlops dev-token)"
        )
    return verify_dev_token(token)
