"""The WebSocket $connect authorizer: Cognito JWTs verified against the pool's keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from agentic_mlops.api.auth import authenticate
from agentic_mlops.api.ws_authorizer import CognitoVerifier, authorize, grants_from_groups
from agentic_mlops.errors import InvalidInput

POOL = "eu-west-1_Abc123"
CLIENT = "web-client-id"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
EVENT = json.loads((Path(__file__).parents[2] / "events/ws_authorizer/connect.json").read_text())
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class PoolKeys:
    """Stands in for PyJWKClient: the pool's one signing key."""

    def get_signing_key_from_jwt(self, token: str) -> Any:
        return jwt.PyJWK.from_dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())))


def verifier_from_env(env: dict[str, str]) -> CognitoVerifier:
    from agentic_mlops.settings import load_settings

    return CognitoVerifier.from_settings(load_settings(("cognito",), environ=env).cognito)


def verifier() -> CognitoVerifier:
    checker = CognitoVerifier(POOL, CLIENT)
    checker._jwks = PoolKeys()
    return checker


def token(key: Any = KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "u-1", "email": "alice@example.com", "iss": ISSUER, "aud": CLIENT,
              "token_use": "id", "iat": now, "exp": now + 600,
              "cognito:groups": ["requester", "prj-1:approver", "admins"]}  # fmt: skip
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def connect(with_token: str | None) -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event["queryStringParameters"] = {"token": with_token} if with_token else {}
    return authorize(event, verifier())


def test_a_valid_id_token_is_allowed_with_its_roles() -> None:
    answer = connect(token())
    statement = answer["policyDocument"]["Statement"][0]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow",
                         "Resource": EVENT["methodArn"]}  # fmt: skip
    assert answer["principalId"] == "alice@example.com"
    assert answer["context"] == {"user": "alice@example.com",
                                 "roles": "prj-1:approver,requester"}  # fmt: skip


def test_the_websocket_handler_reads_the_identity_the_authorizer_passes() -> None:
    answer = connect(token())
    event = {"requestContext": {"authorizer": {"principalId": answer["principalId"],
                                               **answer["context"]}}}  # fmt: skip
    identity = authenticate(event, mode="claims", secret=None, query_token=True)
    assert identity.user == "alice@example.com"
    assert identity.grants() == identity.grants() and identity.roles == {
        "*": frozenset({"requester"}), "prj-1": frozenset({"approver"})
    }  # fmt: skip


def test_an_access_token_of_the_client_is_allowed() -> None:
    answer = connect(token(token_use="access", aud=None, client_id=CLIENT))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(None, id="no token"),
        pytest.param("not-a-jwt", id="malformed"),
        pytest.param(token(OTHER_KEY), id="forged signature"),
        pytest.param(token(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(token(iss="https://cognito-idp.eu-west-1.amazonaws.com/other"), id="issuer"),
        pytest.param(token(aud="another-client"), id="another client"),
        pytest.param(token(token_use="refresh"), id="token use"),
        pytest.param(token(**{"cognito:groups": ["admins"]}), id="no platform role"),
    ],
)
def test_anything_else_is_denied(bad: str | None) -> None:
    answer = connect(bad)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in answer


def test_groups_map_to_grants_like_the_service_expects() -> None:
    assert grants_from_groups(["approver", "p:requester", "nope", "p:nope"]) == [
        "approver", "p:requester"
    ]  # fmt: skip
    assert grants_from_groups("requester") == ["requester"]
    assert grants_from_groups(None) == []


def test_the_settings_are_checked() -> None:
    with pytest.raises(InvalidInput, match="AGENTIC_MLOPS_USER_POOL_ID"):
        verifier_from_env({"AGENTIC_MLOPS_USER_POOL_CLIENT_ID": CLIENT})
    with pytest.raises(InvalidInput, match="AGENTIC_MLOPS_USER_POOL_CLIENT_ID"):
        verifier_from_env({"AGENTIC_MLOPS_USER_POOL_ID": POOL})
    assert verifier_from_env({"AGENTIC_MLOPS_USER_POOL_ID": POOL,
                                     "AGENTIC_MLOPS_USER_POOL_CLIENT_ID": CLIENT}).jwks_url == (
        f"{ISSUER}/.well-known/jwks.json"
    )  # fmt: skip
