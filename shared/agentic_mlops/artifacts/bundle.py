"""Deterministic zip bundles and their safe extraction.

The same files always give the same bytes (and so the same sha256): entries are sorted by
path, every entry carries the same timestamp and permissions, and the compression level is
fixed. Paths are POSIX, relative and free of ``..``; archives that break these rules are
refused on extraction, as are symbolic links.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path

from agentic_mlops.canonical import sha256_hex
from agentic_mlops.errors import InvalidInput

__all__ = [
    "FIXED_DATE_TIME",
    "MAX_TOTAL_BYTES",
    "UnsafePath",
    "build_zip",
    "extract_zip",
    "normalize_path",
    "read_zip",
    "sha256_hex",
]

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
UNIX_SYSTEM = 3
MAX_TOTAL_BYTES = 512 * 1024 * 1024


class UnsafePath(InvalidInput, ValueError):
    """A path that is absolute, climbs out with ``..`` or is otherwise not a plain file path."""


def normalize_path(path: str) -> str:
    """Return ``path`` as a relative POSIX path without empty or ``.`` segments.

    Args:
        path: a relative path with ``/`` separators.

    Returns:
        The normalised path, e.g. ``"./plan//a.md"`` becomes ``"plan/a.md"``.

    Raises:
        UnsafePath: for absolute paths, ``..`` segments, backslashes, drive letters, NUL
            characters or a path that names nothing.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePath(f"empty or non-text path: {path!r}")
    if "\\" in path or "\x00" in path:
        raise UnsafePath(f"path must use '/' and no NUL characters: {path!r}")
    if path.startswith("/") or (len(path) >= 2 and path[1] == ":"):
        raise UnsafePath(f"absolute path not allowed: {path!r}")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"'..' not allowed in path: {path!r}")
    if not parts:
        raise UnsafePath(f"path names no file: {path!r}")
    return "/".join(parts)


def _normalized_entries(files: Mapping[str, str | bytes]) -> list[tuple[str, bytes]]:
    """Validate, encode and sort the entries; refuse two paths that normalise alike."""
    entries: dict[str, bytes] = {}
    for raw_path, content in files.items():
        path = normalize_path(raw_path)
        if path in entries:
            raise UnsafePath(f"duplicate path after normalisation: {raw_path!r}")
        entries[path] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    return sorted(entries.items())


def _zip_info(path: str) -> zipfile.ZipInfo:
    """Return the fixed metadata of one entry (timestamp, unix permissions, deflate)."""
    info = zipfile.ZipInfo(path, date_time=FIXED_DATE_TIME)
    info.create_system = UNIX_SYSTEM
    info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build_zip(files: Mapping[str, str | bytes]) -> bytes:
    """Build a byte-for-byte deterministic zip of ``files``.

    Args:
        files: path to content; text is encoded as UTF-8. Insertion order does not matter.

    Returns:
        The zip bytes: entries sorted by path, timestamp 1980-01-01 00:00:00, mode 0o644,
        deflated at a fixed level, no directory entries.

    Raises:
        UnsafePath: (a ``ValueError``) for an absolute path, a ``..`` segment or duplicates.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in _normalized_entries(files):
            archive.writestr(
                _zip_info(path),
                content,
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=COMPRESS_LEVEL,
            )
    return buffer.getvalue()


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """Tell whether an entry was stored as a unix symbolic link."""
    return info.create_system == UNIX_SYSTEM and stat.S_ISLNK(info.external_attr >> 16)


def _safe_members(
    archive: zipfile.ZipFile, max_total_bytes: int
) -> list[tuple[str, zipfile.ZipInfo]]:
    """Return ``(normalised path, info)`` for every file entry, refusing unsafe archives."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            normalize_path(info.filename)  # still refuse ``../`` directories
            continue
        if _is_symlink(info):
            raise UnsafePath(f"symbolic link in archive: {info.filename!r}")
        path = normalize_path(info.filename)
        if path in members:
            raise UnsafePath(f"duplicate entry in archive: {info.filename!r}")
        total += info.file_size
        if total > max_total_bytes:
            raise UnsafePath(f"archive expands beyond {max_total_bytes} bytes")
        members[path] = info
    return sorted(members.items())


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Read one entry, refusing more bytes than its header announced (zip bombs)."""
    with archive.open(info) as handle:
        data = handle.read(min(info.file_size, limit) + 1)
    if len(data) > info.file_size:
        raise UnsafePath(f"entry larger than announced: {info.filename!r}")
    return data


def read_zip(data: bytes, *, max_total_bytes: int = MAX_TOTAL_BYTES) -> dict[str, bytes]:
    """Read every file of a zip into memory.

    Args:
        data: the zip bytes.
        max_total_bytes: refuse archives that expand to more than this.

    Returns:
        Normalised path to content, sorted by path.

    Raises:
        UnsafePath: for traversal, symbolic links, duplicates or an oversized archive.
        InvalidInput: if ``data`` is not a zip.
    """
    with _open_archive(data) as archive:
        return {
            path: _read_member(archive, info, max_total_bytes)
            for path, info in _safe_members(archive, max_total_bytes)
        }


def _open_archive(data: bytes) -> zipfile.ZipFile:
    """Open zip bytes, turning a corrupt archive into ``InvalidInput``."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"not a zip archive: {exc}") from exc


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> Path:
    """Create ``out_dir`` when missing; refuse a non-empty one unless overwriting."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not overwrite and any(out_dir.iterdir()):
        raise FileExistsError(f"extraction folder is not empty: {out_dir}")
    return out_dir.resolve()


def _target(root: Path, path: str) -> Path:
    """Return where ``path`` lands under ``root``, refusing anything that escapes it."""
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        raise UnsafePath(f"entry escapes the extraction folder: {path!r}")
    return target


def _write_file(target: Path, content: bytes) -> None:
    """Write one extracted file with mode 0o644, replacing (never following) a symlink."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_bytes(content)
    os.chmod(target, FILE_MODE)


def extract_zip(
    data: bytes,
    out_dir: Path,
    *,
    overwrite: bool = False,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[Path]:
    """Extract a zip safely into ``out_dir``.

    Every entry is checked before anything is written, so an unsafe archive leaves the
    folder untouched.

    Args:
        data: the zip bytes.
        out_dir: destination folder; created when missing.
        overwrite: allow a non-empty ``out_dir`` (existing files are replaced).
        max_total_bytes: refuse archives that expand to more than this.

    Returns:
        The written file paths, sorted.

    Raises:
        UnsafePath: for traversal (zip-slip), symbolic links, duplicates or oversize.
        FileExistsError: if ``out_dir`` is not empty and ``overwrite`` is false.
        InvalidInput: if ``data`` is not a zip.
    """
    contents = read_zip(data, max_total_bytes=max_total_bytes)
    root = _prepare_out_dir(Path(out_dir), overwrite)
    targets = [(_target(root, path), content) for path, content in contents.items()]
    for target, content in targets:
        _write_file(target, content)
    return sorted(target for target, _ in targets)
