"""Checks AWS Signature Version 4 on requests to the local ``@connections`` API.

API Gateway's management API accepts only IAM-signed requests; the local server does the
same with its own credentials (generated at start, handed only to this process's
poster). The signature is recomputed with botocore's signer over exactly the headers the
request says it signed, and compared in constant time; a request more than five minutes
from now is refused (replays).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_SKEW_S = 300
SERVICE = "execute-api"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+),"
    r" ?Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class LocalCredentials:
    """The key pair the local server accepts (random per server)."""

    access_key: str = field(default_factory=lambda: "LOCAL" + secrets.token_hex(8).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    region: str = "us-east-1"


def verify(
    credentials: LocalCredentials,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> str | None:
    """Why a request's signature is not acceptable, or None when it is.

    Args:
        credentials: the only key pair accepted.
        method, url, headers, body: the request as received (``url`` with its raw path).
        now: the current time (tests).
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    lowered = {name.lower(): value for name, value in headers.items()}
    match = _AUTHORIZATION.match(lowered.get("authorization", ""))
    if match is None:
        return "missing or malformed Authorization (SigV4 required)"
    if not hmac.compare_digest(match["key"], credentials.access_key):
        return "unknown access key"
    if match["service"] != SERVICE or match["region"] != credentials.region:
        return "wrong credential scope"
    stamp = lowered.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "missing or malformed X-Amz-Date"
    if abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > MAX_SKEW_S:
        return "the signature is too old or from the future"
    if stamp[:8] != match["date"]:
        return "the credential date does not match X-Amz-Date"
    names = match["headers"].split(";")
    if "host" not in names or any(name not in lowered for name in names):
        return "a signed header is missing"
    request = AWSRequest(method=method, url=url, data=body, headers={n: lowered[n] for n in names})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(
        Credentials(credentials.access_key, credentials.secret_key), SERVICE, credentials.region
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        return "the signature does not match"
    return None
