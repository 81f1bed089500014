"""The content-addressed artifact store: a local folder, and S3 through moto."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from agentic_mlops.artifacts import build_zip, sha256_hex
from agentic_mlops.artifacts.store import (
    ArtifactCorrupted,
    LocalArtifactStore,
    S3ArtifactStore,
    create_artifact_store,
)
from agentic_mlops.errors import InvalidInput, NotFound
from agentic_mlops.settings import load_settings


def open_artifact_store(env: dict[str, str]) -> object:
    """The store the settings read from ``env`` choose (the one factory)."""
    settings = load_settings(("local", "artifacts"), environ=env)
    return create_artifact_store(settings.artifacts, settings.home)


DATA = build_zip({"README.md": "# bundle\n", "src/app.py": "print(1)\n"})
SHA = sha256_hex(DATA)
KEY = f"bundle/sha256/{SHA[:2]}/{SHA}.zip"


# -- local ------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def test_local_put_uses_the_content_addressed_key(local: LocalArtifactStore) -> None:
    # Given bytes / When they are stored
    stored = local.put(DATA, kind="bundle")
    # Then the key derives from the sha256 and the file has mode 0o644
    assert (stored.key, stored.sha256, stored.size, stored.created) == (KEY, SHA, len(DATA), True)
    path = local.root / KEY
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stored.to_bundle_ref(local.name).key == KEY


def test_local_put_twice_is_a_no_op(local: LocalArtifactStore) -> None:
    # Given stored bytes whose file is dated in the past
    local.put(DATA, kind="bundle")
    path = local.root / KEY
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino
    # When the same bytes are stored again
    again = local.put(DATA, kind="bundle")
    # Then nothing was created and the file was not rewritten
    assert again.created is False
    assert again.key == KEY
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert path.stat().st_ino == inode
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_local_get_round_trips_and_missing_is_not_found(local: LocalArtifactStore) -> None:
    # Given a stored artifact
    stored = local.put(DATA, kind="bundle")
    # When it is read / Then the bytes come back and it exists
    assert local.get(stored.key) == DATA
    assert local.exists(stored.key)
    # When a missing key is read / Then NotFound is raised
    missing = f"bundle/sha256/00/{'0' * 64}.zip"
    assert not local.exists(missing)
    with pytest.raises(NotFound):
        local.get(missing)
    with pytest.raises(NotFound):
        local.url(missing)


def test_local_get_detects_corruption_and_put_heals_it(local: LocalArtifactStore) -> None:
    # Given a stored artifact whose file was tampered with
    stored = local.put(DATA, kind="bundle")
    (local.root / stored.key).write_bytes(DATA + b"tampered")
    # When it is read / Then the corruption is reported
    with pytest.raises(ArtifactCorrupted):
        local.get(stored.key)
    # When the original bytes are stored again / Then the file is rewritten
    assert local.put(DATA, kind="bundle").created is True
    assert local.get(stored.key) == DATA


def test_local_rejects_keys_outside_the_store(local: LocalArtifactStore) -> None:
    # Given keys that are not content-addressed (traversal, junk)
    # When they are read / Then they are refused before touching the disk
    for key in ("../../etc/passwd", "bundle/x.zip", f"../sha256/{SHA[:2]}/{SHA}.zip"):
        with pytest.raises(InvalidInput):
            local.get(key)
    with pytest.raises(InvalidInput):
        local.put(DATA, kind="../bundle")


def test_local_url_is_a_file_uri(local: LocalArtifactStore) -> None:
    stored = local.put(DATA, kind="bundle")
    url = local.url(stored.key)
    assert url.startswith("file://")
    assert Path(unquote(urlparse(url).path)).read_bytes() == DATA


def test_local_quarantine_is_separate_and_keeps_the_reason(local: LocalArtifactStore) -> None:
    # Given a payload that was also stored normally
    local.put(DATA, kind="payload", suffix=".bin")
    # When it is quarantined
    stored = local.quarantine(DATA, reason="secret detected in src/app.py")
    # Then it lives under quarantine/ with a sidecar reason file
    assert stored.key == f"quarantine/payload/sha256/{SHA[:2]}/{SHA}.bin"
    assert stored.created is True
    assert local.get(stored.key) == DATA
    sidecar = local.root / (stored.key + ".reason.txt")
    assert sidecar.read_text() == "secret detected in src/app.py\n"
    assert local.reason(stored.key) == sidecar.read_text()
    # When quarantined again with another reason / Then no new object, reasons accumulate
    again = local.quarantine(DATA, reason="second finding")
    assert again.created is False
    assert local.reason(stored.key).splitlines() == [
        "secret detected in src/app.py",
        "second finding",
    ]


# -- S3 (moto) ----------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A mocked S3 in us-east-1 with the buckets ``artifacts`` and ``quarantine``."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="artifacts")
        client.create_bucket(Bucket="quarantine")
        yield client


def _count_puts(client: Any) -> list[str]:
    """Record the key of every PutObject call made through ``client``."""
    calls: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["Key"])

    client.meta.events.register("before-parameter-build.s3.PutObject", record)
    return calls


def test_s3_put_encrypts_and_records_the_sha(aws: Any) -> None:
    # Given an S3 store
    store = S3ArtifactStore("artifacts", client=aws)
    # When bytes are stored
    stored = store.put(DATA, kind="bundle")
    # Then the object is SSE-S3 encrypted, typed and carries its sha256
    assert (stored.key, stored.created) == (KEY, True)
    head = aws.head_object(Bucket="artifacts", Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["sha256"] == SHA
    assert head["ContentType"] == "application/zip"
    assert store.get(KEY) == DATA


def test_s3_second_put_is_a_no_op(aws: Any) -> None:
    # Given an S3 store whose PutObject calls are counted
    store = S3ArtifactStore("artifacts", client=aws)
    puts = _count_puts(aws)
    # When the same bytes are stored twice
    first = store.put(DATA, kind="bundle")
    second = store.put(DATA, kind="bundle")
    # Then only one upload happened
    assert (first.created, second.created) == (True, False)
    assert puts == [KEY]


def test_s3_missing_key_is_not_found(aws: Any) -> None:
    store = S3ArtifactStore("artifacts", client=aws)
    missing = f"bundle/sha256/00/{'0' * 64}.zip"
    assert store.exists(missing) is False
    with pytest.raises(NotFound):
        store.get(missing)


def test_s3_get_detects_corruption(aws: Any) -> None:
    # Given an object overwritten behind the store's back
    store = S3ArtifactStore("artifacts", client=aws)
    store.put(DATA, kind="bundle")
    aws.put_object(Bucket="artifacts", Key=KEY, Body=b"tampered")
    # When it is read / Then the mismatch is reported
    with pytest.raises(ArtifactCorrupted):
        store.get(KEY)


def test_s3_presigned_url_names_the_key_and_is_signed(aws: Any) -> None:
    store = S3ArtifactStore("artifacts", prefix="team-a/", client=aws)
    stored = store.put(DATA, kind="bundle")
    url = store.url(stored.key, expires_s=600)
    assert f"team-a/{KEY}" in unquote(url)
    query = parse_qs(urlparse(url).query)
    assert "Signature" in query or "X-Amz-Signature" in query
    if "X-Amz-Expires" in query:  # SigV4
        assert query["X-Amz-Expires"] == ["600"]
    else:  # SigV2: an absolute expiry time
        assert abs(int(query["Expires"][0]) - time.time() - 600) < 60
    with pytest.raises(NotFound):
        store.url(f"bundle/sha256/00/{'0' * 64}.zip")


def test_s3_prefix_is_prepended_to_object_keys(aws: Any) -> None:
    store = S3ArtifactStore("artifacts", prefix="/team-a/", client=aws)
    stored = store.put(DATA, kind="bundle")
    assert stored.key == KEY
    aws.head_object(Bucket="artifacts", Key=f"team-a/{KEY}")
    assert store.get(stored.key) == DATA


def test_s3_quarantine_goes_to_the_quarantine_bucket(aws: Any) -> None:
    # Given a store with a separate quarantine bucket
    store = S3ArtifactStore("artifacts", client=aws, quarantine_bucket="quarantine")
    # When a payload is quarantined
    stored = store.quarantine(DATA, reason="secret détecté")
    # Then it is in the quarantine bucket only, with the reason as metadata
    head = aws.head_object(Bucket="quarantine", Key=stored.key)
    assert stored.key.startswith("quarantine/payload/sha256/")
    assert head["ServerSideEncryption"] == "AES256"
    assert unquote(head["Metadata"]["reason"]) == "secret détecté"
    assert aws.list_objects_v2(Bucket="artifacts").get("KeyCount", 0) == 0
    assert store.get(stored.key) == DATA


def test_s3_quarantine_without_a_bucket_uses_the_prefix(aws: Any) -> None:
    store = S3ArtifactStore("artifacts", client=aws)
    stored = store.quarantine(DATA, reason="policy violation", kind="bundle")
    head = aws.head_object(Bucket="artifacts", Key=stored.key)
    assert stored.key == f"quarantine/bundle/sha256/{SHA[:2]}/{SHA}.bin"
    assert head["Metadata"]["reason"] == "policy violation"


# -- selection --------------------------------------------------------------------------


def test_open_artifact_store_picks_s3_when_a_bucket_is_set(aws: Any) -> None:
    # Given the S3 settings in the environment
    env = {
        "AGENTIC_MLOPS_ARTIFACT_BUCKET": "artifacts",
        "AGENTIC_MLOPS_ARTIFACT_PREFIX": "p",
        "AGENTIC_MLOPS_QUARANTINE_BUCKET": "quarantine",
    }
    # When the store is opened (its boto3 client created lazily)
    store = open_artifact_store(env)
    # Then it is S3 with those settings and works
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.quarantine_bucket) == (
        "artifacts",
        "p/",
        "quarantine",
    )
    assert store.put(DATA, kind="bundle").created is True
    aws.head_object(Bucket="artifacts", Key=f"p/{KEY}")


def test_open_artifact_store_local_folder_selection(tmp_path: Path) -> None:
    # Given an explicit folder / Then it is used
    explicit = open_artifact_store({"AGENTIC_MLOPS_ARTIFACT_DIR": str(tmp_path / "x")})
    assert isinstance(explicit, LocalArtifactStore)
    assert explicit.root == tmp_path / "x"
    # Given only the platform home / Then artifacts go under it
    home = open_artifact_store({"AGENTIC_MLOPS_HOME": str(tmp_path / "home")})
    assert isinstance(home, LocalArtifactStore)
    assert home.root == tmp_path / "home" / "artifacts"


def test_importing_the_store_does_not_import_boto3() -> None:
    # Given a fresh interpreter / When the artifacts package is imported
    code = "import sys, agentic_mlops.artifacts; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # Then boto3 was not loaded (cold-start cost)
    assert result.stdout.strip() == "False"
