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

import time
from collections.abc import Iterable, Mapping
from typing import Any

from agentic_mlops.domain.identity import ALL_PROJECTS, ROLES, Identity, Role, parse_grants
from agentic_mlops.errors import Forbidden, Unauthenticated

__all__ = [
    "ALL_PROJECTS",
    "ROLES",
    "Forbidden",
    "Identity",
    "Role",
    "Unauthenticated",
    "authenticate",
    "bearer_token",
    "identity_from_claims",
    "issue_dev_token",
    "parse_grants",
    "verify_dev_token",
]

ISSUER = "agentic-mlops-dev"
DEFAULT_TTL_S = 12 * 3600


# development tokens ---------------------------------------------------------------------


def issue_dev_token(
    user: str,
    roles: Iterable[str],
    project: str | None = None,
    *,
    secret: str,
    ttl_s: int = DEFAULT_TTL_S,
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
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_dev_token(token: str, *, secret: str) -> Identity:
    """Check a development token's signature and expiry.

    Raises:
        Unauthenticated: a forged, expired or malformed token.
    """
    import jwt

    if len(token) > 4096:
        raise Unauthenticated("the token is not valid")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the token has expired; issue a new one") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("the token is not valid") from exc
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("the token is not valid")
    return Identity(user=str(claims["sub"]), roles=parse_grants(roles))


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


def authenticate(
    event: Mapping[str, Any],
    *,
    mode: str,
    secret: str | None,
    query_token: bool = False,
) -> Identity:
    """The caller of an API Gateway proxy event (REST or WebSocket).

    The authorizer's claims win when present (AWS); otherwise a development token from
    the ``Authorization`` header, or from the ``token`` query parameter when
    ``query_token`` is set (WebSocket ``$connect``). Development tokens are refused in the
    ``claims`` mode (``AGENTIC_MLOPS_AUTH=claims``, set in AWS).

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
    if mode == "claims" or secret is None:
        raise Unauthenticated("no authorizer claims on the request")
    token = bearer_token(event.get("headers"))
    if token is None and query_token:
        token = (event.get("queryStringParameters") or {}).get("token")
    if not token:
        raise Unauthenticated(
            "missing credentials: send 'Authorization: Bearer TOKEN' (issue one with"
            " agentic-mlops dev-token)"
        )
    return verify_dev_token(str(token), secret=secret)
