"""Signed, expiring download links for the local artifact store.

The local stand-in for S3 presigned URLs: the link carries its expiry and an HMAC of
the key and the expiry, made with the server's secret (the development-token one); the
local server checks both before serving the file.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode


def _signature(key: str, expires: int, secret: str) -> str:
    message = f"{key}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_download_url(
    base_url: str, key: str, expires_s: int, secret: str, now: float | None = None
) -> str:
    """A link to ``key`` on the local server, valid for ``expires_s`` seconds."""
    expires = int((time.time() if now is None else now) + expires_s)
    query = urlencode({"expires": expires, "signature": _signature(key, expires, secret)})
    return f"{base_url.rstrip('/')}/_local/artifacts/{quote(key)}?{query}"


def verify_download(
    key: str, expires: str | None, signature: str | None, secret: str, now: float | None = None
) -> bool:
    """Whether a download link is authentic and not expired."""
    if not expires or not signature or not expires.isdigit() or len(expires) > 12:
        return False
    if int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(_signature(key, int(expires), secret), signature)
