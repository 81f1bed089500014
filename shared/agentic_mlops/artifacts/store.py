"""Content-addressed artifact storage: a local folder or an S3 bucket.

Keys look like ``{kind}/sha256/{hex[:2]}/{hex}{suffix}``, so storing the same bytes twice
is a no-op. Quarantined payloads live under ``quarantine/`` (or in a separate bucket) with
the reason kept alongside.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agentic_mlops.canonical import sha256_hex
from agentic_mlops.domain.delivery import BundleRef
from agentic_mlops.errors import InvalidInput, NotFound, PlatformError

if TYPE_CHECKING:
    from agentic_mlops.artifacts.config import ArtifactSettings

QUARANTINE_PREFIX = "quarantine/"
QUARANTINE_SUFFIX = ".bin"
REASON_SUFFIX = ".reason.txt"
FILE_MODE = 0o644
MAX_REASON_METADATA = 1024

_KIND = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SUFFIX = re.compile(r"^(\.[A-Za-z0-9_-]{1,16}){0,3}$")
_KEY = re.compile(
    r"^(quarantine/)?[a-z0-9][a-z0-9._-]{0,63}/sha256/[0-9a-f]{2}/(?P<hex>[0-9a-f]{64})"
    r"(\.[A-Za-z0-9_-]{1,16}){0,3}$"
)
_CONTENT_TYPES = {
    ".zip": "application/zip",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


class ArtifactStoreError(PlatformError):
    """The artifact store failed (permissions, network, a missing bucket)."""

    code = "artifact_store_error"


class ArtifactCorrupted(ArtifactStoreError):
    """A stored object no longer matches the sha256 in its key."""

    code = "artifact_corrupted"


@dataclass(frozen=True)
class StoredArtifact:
    """Where some bytes were stored; ``created`` is false when they were already there."""

    key: str
    sha256: str
    size: int
    created: bool

    def to_bundle_ref(self, store: str) -> BundleRef:
        """Return the domain reference of this artifact in the store named ``store``."""
        return BundleRef(key=self.key, sha256=self.sha256, size=self.size, store=store)


def content_key(sha256: str, *, kind: str, suffix: str = ".zip") -> str:
    """Return the content-addressed key ``{kind}/sha256/{hex[:2]}/{hex}{suffix}``.

    Raises:
        InvalidInput: for a kind or suffix that is not a plain name.
    """
    if not _KIND.match(kind):
        raise InvalidInput(f"artifact kind must be a plain lower-case name: {kind!r}")
    if not _SUFFIX.match(suffix):
        raise InvalidInput(f"artifact suffix must look like '.zip': {suffix!r}")
    return f"{kind}/sha256/{sha256[:2]}/{sha256}{suffix}"


def key_sha256(key: str) -> str:
    """Return the sha256 a key was derived from.

    Raises:
        InvalidInput: if ``key`` is not a content-addressed key of this store.
    """
    match = _KEY.match(key)
    if not match:
        raise InvalidInput(f"not an artifact key: {key!r}")
    return match.group("hex")


def content_type(key: str) -> str:
    """Return the MIME type for a key, from its suffix."""
    return _CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")


def _verify(key: str, data: bytes) -> bytes:
    """Return ``data`` when it matches the sha256 of ``key``, else raise ArtifactCorrupted."""
    if sha256_hex(data) != key_sha256(key):
        raise ArtifactCorrupted(f"artifact {key} does not match its sha256")
    return data


class ArtifactStore(ABC):
    """Content-addressed storage of bundles and other artifacts."""

    name: str = "artifact-store"

    def put(self, data: bytes, *, kind: str, suffix: str = ".zip") -> StoredArtifact:
        """Store ``data`` under its content-addressed key; a no-op if it is already there.

        Args:
            data: the bytes to store.
            kind: the first key segment, e.g. ``"bundle"``.
            suffix: appended to the key, e.g. ``".zip"``.

        Returns:
            The stored artifact; ``created`` is false when the key already existed.
        """
        digest = sha256_hex(data)
        key = content_key(digest, kind=kind, suffix=suffix)
        created = self._write_if_absent(key, data, {})
        return StoredArtifact(key=key, sha256=digest, size=len(data), created=created)

    def quarantine(self, data: bytes, *, reason: str, kind: str = "payload") -> StoredArtifact:
        """Store a suspicious payload apart from regular artifacts, with the reason.

        Args:
            data: the payload.
            reason: why it was quarantined (kept as metadata or a sidecar file).
            kind: the key segment after ``quarantine/``.

        Returns:
            The stored artifact; its key starts with ``quarantine/``.
        """
        digest = sha256_hex(data)
        key = QUARANTINE_PREFIX + content_key(digest, kind=kind, suffix=QUARANTINE_SUFFIX)
        created = self._write_if_absent(key, data, {"reason": reason})
        self._record_reason(key, reason, created)
        return StoredArtifact(key=key, sha256=digest, size=len(data), created=created)

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Return the bytes stored under ``key``.

        Raises:
            NotFound: if nothing is stored under ``key``.
            ArtifactCorrupted: if the bytes no longer match the key's sha256.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Tell whether something is stored under ``key``."""

    @abstractmethod
    def url(self, key: str, *, expires_s: int = 3600) -> str:
        """Return a URL to download ``key`` (``file://`` locally, presigned on S3).

        Raises:
            NotFound: if nothing is stored under ``key``.
        """

    @abstractmethod
    def _write_if_absent(self, key: str, data: bytes, extra: Mapping[str, str]) -> bool:
        """Store ``data`` under ``key`` unless present; return whether it was written."""

    def _record_reason(self, key: str, reason: str, created: bool) -> None:  # noqa: B027
        """Keep the quarantine reason alongside ``key`` (a no-op where metadata suffices)."""


class LocalArtifactStore(ArtifactStore):
    """Artifacts as files under ``root``, written atomically (temp file + ``os.replace``)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        """Use ``root`` (created on first write) as the store folder."""
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """Return the file that holds ``key``.

        Raises:
            InvalidInput: if ``key`` is not an artifact key.
        """
        key_sha256(key)
        return self.root / key

    def get(self, key: str) -> bytes:
        """Return the bytes of ``key``, checked against its sha256.

        Raises:
            NotFound: if the file does not exist.
            ArtifactCorrupted: if the file no longer matches its sha256.
        """
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no artifact {key}") from exc
        return _verify(key, data)

    def exists(self, key: str) -> bool:
        """Tell whether the file of ``key`` exists."""
        return self.path_for(key).is_file()

    def url(self, key: str, *, expires_s: int = 3600) -> str:
        """Return the ``file://`` URI of ``key`` (``expires_s`` is ignored locally).

        Raises:
            NotFound: if the file does not exist.
        """
        path = self.path_for(key)
        if not path.is_file():
            raise NotFound(f"no artifact {key}")
        return path.resolve().as_uri()

    def reason(self, key: str) -> str:
        """Return the recorded reason(s) of a quarantined artifact.

        Raises:
            NotFound: if no reason was recorded for ``key``.
        """
        try:
            return self._reason_path(key).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NotFound(f"no quarantine reason for {key}") from exc

    def _reason_path(self, key: str) -> Path:
        path = self.path_for(key)
        return path.with_name(path.name + REASON_SUFFIX)

    def _write_if_absent(self, key: str, data: bytes, extra: Mapping[str, str]) -> bool:
        path = self.path_for(key)
        if path.is_file() and self._intact(key, path):
            return False
        _atomic_write(path, data)
        return True

    @staticmethod
    def _intact(key: str, path: Path) -> bool:
        """Tell whether an existing file still matches its key (a corrupt one is rewritten)."""
        try:
            _verify(key, path.read_bytes())
        except ArtifactCorrupted:
            return False
        return True

    def _record_reason(self, key: str, reason: str, created: bool) -> None:
        path = self._reason_path(key)
        existing = path.read_text(encoding="utf-8") if path.is_file() else ""
        line = reason.replace("\n", " ").strip() + "\n"
        if line not in existing.splitlines(keepends=True):
            _atomic_write(path, (existing + line).encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}


def _is_not_found(exc: Exception) -> bool:
    """Tell whether a botocore ClientError means the object does not exist."""
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code")) in _NOT_FOUND_CODES


class S3ArtifactStore(ArtifactStore):
    """Artifacts in an S3 bucket, encrypted at rest (SSE-S3), sha256 kept as metadata."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        client: Any = None,
        quarantine_bucket: str | None = None,
    ) -> None:
        """Use ``bucket`` (keys under ``prefix``); boto3 is imported on first use."""
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.quarantine_bucket = quarantine_bucket
        self._client = client

    def __repr__(self) -> str:
        return f"S3ArtifactStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        """The boto3 S3 client, created lazily to keep imports cheap."""
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def location(self, key: str) -> tuple[str, str]:
        """Return ``(bucket, object key)`` for an artifact key.

        Quarantined keys go to the quarantine bucket when one is configured.

        Raises:
            InvalidInput: if ``key`` is not an artifact key.
        """
        key_sha256(key)
        if self.quarantine_bucket and key.startswith(QUARANTINE_PREFIX):
            return self.quarantine_bucket, self.prefix + key
        return self.bucket, self.prefix + key

    def get(self, key: str) -> bytes:
        """Download ``key`` and check it against its sha256.

        Raises:
            NotFound: if the object does not exist.
            ArtifactCorrupted: if the object no longer matches its sha256.
            ArtifactStoreError: for any other S3 error.
        """
        bucket, object_key = self.location(key)
        response = self._call("get_object", key, Bucket=bucket, Key=object_key)
        return _verify(key, response["Body"].read())

    def exists(self, key: str) -> bool:
        """Tell whether the object exists (a HEAD request)."""
        return self.head(key) is not None

    def head(self, key: str) -> dict[str, Any] | None:
        """Return the object's HEAD response, or None when it does not exist."""
        bucket, object_key = self.location(key)
        try:
            return self._call("head_object", key, Bucket=bucket, Key=object_key)
        except NotFound:
            return None

    def url(self, key: str, *, expires_s: int = 3600) -> str:
        """Return a presigned GET URL valid for ``expires_s`` seconds.

        Raises:
            NotFound: if the object does not exist.
        """
        if not self.exists(key):
            raise NotFound(f"no artifact {key}")
        bucket, object_key = self.location(key)
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": object_key},
            ExpiresIn=int(expires_s),
        )

    def _write_if_absent(self, key: str, data: bytes, extra: Mapping[str, str]) -> bool:
        if self.exists(key):
            return False
        bucket, object_key = self.location(key)
        metadata = {"sha256": sha256_hex(data), **{k: _ascii(v) for k, v in extra.items()}}
        self._call(
            "put_object",
            key,
            Bucket=bucket,
            Key=object_key,
            Body=data,
            ContentType=content_type(key),
            ServerSideEncryption="AES256",
            Metadata=metadata,
        )
        return True

    def _call(self, operation: str, key: str, **params: Any) -> Any:
        """Call one S3 operation, mapping missing objects to NotFound."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            if _is_not_found(exc):
                raise NotFound(f"no artifact {key}") from exc
            raise ArtifactStoreError(f"S3 {operation} failed for {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise ArtifactStoreError(f"S3 {operation} failed for {key}: {exc}") from exc


def _ascii(value: str) -> str:
    """Make a metadata value ASCII (percent-encoded) and short enough for S3 headers."""
    return quote(value.replace("\n", " "), safe=" !#$&'()*+,-./:;=?@[]^_`{|}~")[
        :MAX_REASON_METADATA
    ]


def create_artifact_store(settings: ArtifactSettings, home: Path) -> ArtifactStore:
    """The configured artifact store: S3 when a bucket is set, else a local folder
    (``AGENTIC_MLOPS_ARTIFACT_DIR``, default ``home/artifacts``)."""
    if settings.bucket:
        return S3ArtifactStore(
            settings.bucket,
            prefix=settings.prefix,
            quarantine_bucket=settings.quarantine_bucket,
        )
    return LocalArtifactStore((settings.directory or home / "artifacts").expanduser())
