"""The WebSocket ``$connect`` authorizer: a Cognito JWT from the ``token`` query parameter.

Browsers cannot set headers on a WebSocket, so the web app passes its Cognito token as
``?token=``. The token is verified against the user pool's JWKS (RS256, issuer, expiry,
``token_use``; the audience, or ``client_id`` for access tokens, must be the web app's
client). The answer is an IAM policy for the ``$connect`` route with the caller as
``principalId`` and their roles (``cognito:groups``: ``ROLE`` or ``PROJECT:ROLE``) in the
context, which :func:`agentic_mlops.api.auth.authenticate` reads on ``$connect``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentic_mlops.api.auth import ALL_PROJECTS, parse_grants
from agentic_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from agentic_mlops.settings import CognitoSettings

logger = logging.getLogger(__name__)

USER_POOL_ENV = "AGENTIC_MLOPS_USER_POOL_ID"
CLIENT_ENV = "AGENTIC_MLOPS_USER_POOL_CLIENT_ID"
_POOL_ID = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)_[0-9A-Za-z]+$")
_JWKS_CACHE_S = 3600
_LEEWAY_S = 30


class TokenRejected(Exception):
    """The token is missing, malformed, forged, expired or for another client."""


@dataclass
class CognitoVerifier:
    """Verifies Cognito ID and access tokens of one user pool and app client.

    Attributes:
        user_pool_id: e.g. ``eu-west-1_AbCdEf123`` (the region is read from it).
        client_id: The web app's client id.
        jwks_url: Defaults to the pool's ``/.well-known/jwks.json``.
    """

    user_pool_id: str
    client_id: str
    jwks_url: str = ""
    _jwks: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        match = _POOL_ID.match(self.user_pool_id)
        if not match:
            raise InvalidInput(f"{USER_POOL_ENV} is not a user pool id: {self.user_pool_id!r}")
        if not self.client_id:
            raise InvalidInput(f"{CLIENT_ENV} is not set")
        self.issuer = f"https://cognito-idp.{match['region']}.amazonaws.com/{self.user_pool_id}"
        self.jwks_url = self.jwks_url or f"{self.issuer}/.well-known/jwks.json"

    @classmethod
    def from_settings(cls, cognito: CognitoSettings) -> CognitoVerifier:
        """The verifier of ``AGENTIC_MLOPS_USER_POOL_ID`` / ``_CLIENT_ID``.

        Raises:
            InvalidInput: a variable is missing or malformed.
        """
        return cls(cognito.user_pool_id or "", cognito.user_pool_client_id or "")

    def _signing_key(self, token: str) -> Any:
        import jwt

        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=_JWKS_CACHE_S)
        return self._jwks.get_signing_key_from_jwt(token).key

    def verify(self, token: str) -> dict[str, Any]:
        """Return the token's claims.

        Raises:
            TokenRejected: for any token that is not a valid one of this pool and client.
        """
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "sub", "token_use"],
                         "verify_aud": False},
            )  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token is not valid ({type(exc).__name__})") from exc
        use = claims.get("token_use")
        if use == "id":
            audience = claims.get("aud")
            ok = audience == self.client_id or (
                isinstance(audience, list) and self.client_id in audience
            )
        elif use == "access":
            ok = claims.get("client_id") == self.client_id
        else:
            raise TokenRejected(f"unexpected token_use {use!r}")
        if not ok:
            raise TokenRejected("the token was issued to another client")
        return claims


def grants_from_groups(groups: Any) -> list[str]:
    """The ``ROLE`` / ``PROJECT:ROLE`` grants among ``cognito:groups`` (others ignored)."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return []
    grants = parse_grants(str(g) for g in groups)
    return sorted(
        role if project == ALL_PROJECTS else f"{project}:{role}"
        for project, roles in grants.items()
        for role in roles
    )


def _policy(principal: str, effect: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


def authorize(event: Mapping[str, Any], verifier: CognitoVerifier) -> dict[str, Any]:
    """Answer API Gateway's REQUEST authorizer event for ``$connect``.

    Returns:
        An Allow policy with ``context.user`` and ``context.roles`` (comma-separated
        grants) for a valid token with at least one role; a Deny policy otherwise (the
        reason is logged, never the token).
    """
    resource = str(event.get("methodArn") or "*")
    token = ((event.get("queryStringParameters") or {}).get("token") or "").strip()
    if not token:
        logger.info("websocket connect refused: no token in the query string")
        return _policy("anonymous", "Deny", resource)
    try:
        claims = verifier.verify(token)
    except TokenRejected as exc:
        logger.info("websocket connect refused: %s", exc)
        return _policy("anonymous", "Deny", resource)
    user = str(claims.get("email") or claims.get("cognito:username") or claims["sub"])
    grants = grants_from_groups(claims.get("cognito:groups"))
    if not grants:
        logger.info("websocket connect refused: %s has no platform role", user)
        return _policy(user, "Deny", resource)
    answer = _policy(user, "Allow", resource)
    answer["context"] = {"user": user, "roles": ",".join(grants)}
    return answer


_verifier: dict[str, CognitoVerifier] = {}


def handle(event: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda entry point's logic: one verifier per container (its JWKS cached)."""
    if "verifier" not in _verifier:
        # The settings model alone (its groups hold no secret), not the composition: the
        # authorizer's package holds no database driver, no LangGraph, no model SDK.
        from agentic_mlops.observability import configure_logging
        from agentic_mlops.settings import FUNCTION_GROUPS, load_settings

        settings = load_settings((*FUNCTION_GROUPS["ws_authorizer"], "logging"))
        configure_logging(settings.logging.level, replace_all=True)
        _verifier["verifier"] = CognitoVerifier.from_settings(settings.cognito)
    return authorize(event, _verifier["verifier"])
