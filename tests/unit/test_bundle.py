"""Deterministic zip bundles: byte-identical output, fixed metadata, safe extraction."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from agentic_mlops.artifacts.bundle import (
    UnsafePath,
    build_zip,
    extract_zip,
    normalize_path,
    read_zip,
    sha256_hex,
)
from agentic_mlops.errors import InvalidInput

FILES = {
    "README.md": "# Generated\n",
    "infra/main.tf": 'resource "aws_s3_bucket" "data" {}\n',
    "src/train.py": "print('train')\n",
    "reports/validation.json": b'{"passed": true}',
}


def _malicious_zip(name: str, *, symlink: bool = False) -> bytes:
    """Craft an archive whose single entry has a hostile name or is a symbolic link."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd" if symlink else "pwned")
    return buffer.getvalue()


def test_same_files_in_a_different_order_give_identical_bytes() -> None:
    # Given the same files inserted in two different orders
    reordered = dict(reversed(list(FILES.items())))
    assert list(reordered) != list(FILES)
    # When both are zipped
    first, second = build_zip(FILES), build_zip(reordered)
    # Then the bytes and the sha256 are identical
    assert first == second
    assert sha256_hex(first) == sha256_hex(second)


def test_text_and_its_utf8_bytes_give_identical_bytes() -> None:
    # Given one file as text and as UTF-8 bytes
    # When both are zipped / Then the archives are identical
    assert build_zip({"a.md": "é\n"}) == build_zip({"a.md": "é\n".encode()})


def test_different_content_gives_a_different_sha() -> None:
    # Given the files and a copy with one changed byte
    changed = {**FILES, "src/train.py": "print('train!')\n"}
    # When both are zipped / Then their sha256 differ
    assert sha256_hex(build_zip(FILES)) != sha256_hex(build_zip(changed))


def test_entries_are_sorted_with_fixed_timestamp_and_permissions() -> None:
    # Given a zip of nested files
    data = build_zip(FILES)
    # When its entries are inspected
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    # Then they are sorted files only, with the fixed metadata
    assert [i.filename for i in infos] == sorted(FILES)
    for info in infos:
        assert not info.is_dir()
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 3
        assert stat.S_IMODE(info.external_attr >> 16) == 0o644
        assert stat.S_ISREG(info.external_attr >> 16)
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_read_zip_round_trips_the_contents() -> None:
    # Given a zip built from text and bytes
    # When it is read back
    contents = read_zip(build_zip(FILES))
    # Then every file comes back as bytes, sorted by path
    assert list(contents) == sorted(FILES)
    assert contents["README.md"] == b"# Generated\n"
    assert contents["reports/validation.json"] == b'{"passed": true}'


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../escape.txt", "a/../../b", "C:/windows.txt", "a\\b.txt", "", "./"]
)
def test_build_rejects_unsafe_paths(path: str) -> None:
    # Given a path that is absolute, climbs out or names nothing
    # When it is zipped / Then a ValueError is raised
    with pytest.raises(ValueError):
        build_zip({path: "x"})


def test_build_rejects_paths_that_normalise_to_the_same_file() -> None:
    # Given two spellings of one path
    # When they are zipped together / Then the ambiguity is refused
    with pytest.raises(UnsafePath):
        build_zip({"./a.txt": "1", "a.txt": "2"})


def test_normalize_path_drops_dot_and_empty_segments() -> None:
    assert normalize_path("./plan//architecture.md") == "plan/architecture.md"


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_extract_refuses_path_traversal(tmp_path: Path, name: str) -> None:
    # Given a crafted archive whose entry escapes the folder (zip-slip)
    data = _malicious_zip(name)
    out = tmp_path / "out"
    # When it is extracted
    with pytest.raises(ValueError):
        extract_zip(data, out)
    # Then nothing was written anywhere
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/abs/evil.txt").exists()
    assert not out.exists() or not any(out.iterdir())


def test_extract_and_read_refuse_symbolic_links(tmp_path: Path) -> None:
    # Given an archive holding a symbolic link
    data = _malicious_zip("link", symlink=True)
    # When it is read or extracted / Then it is refused and nothing is written
    with pytest.raises(UnsafePath):
        read_zip(data)
    with pytest.raises(UnsafePath):
        extract_zip(data, tmp_path / "out")
    assert not (tmp_path / "out" / "link").exists()


def test_extract_writes_files_with_fixed_mode(tmp_path: Path) -> None:
    # Given a bundle
    out = tmp_path / "out"
    # When it is extracted into a fresh folder
    written = extract_zip(build_zip(FILES), out)
    # Then every file is written under the folder with mode 0o644
    assert written == sorted((out / p).resolve() for p in FILES)
    assert (out / "infra/main.tf").read_text() == FILES["infra/main.tf"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in written)


def test_extract_refuses_a_non_empty_folder_unless_overwriting(tmp_path: Path) -> None:
    # Given a folder that already holds a file
    (tmp_path / "existing.txt").write_text("keep")
    data = build_zip({"README.md": "new"})
    # When extracting without overwrite / Then it is refused
    with pytest.raises(FileExistsError):
        extract_zip(data, tmp_path)
    assert not (tmp_path / "README.md").exists()
    # When extracting with overwrite / Then the file is written and the other kept
    extract_zip(data, tmp_path, overwrite=True)
    assert (tmp_path / "README.md").read_text() == "new"
    assert (tmp_path / "existing.txt").read_text() == "keep"


def test_extract_does_not_follow_a_symlinked_folder(tmp_path: Path) -> None:
    # Given an output folder holding a symlink that points outside it
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "docs").symlink_to(outside, target_is_directory=True)
    # When a bundle writing into that folder is extracted with overwrite
    with pytest.raises(UnsafePath):
        extract_zip(build_zip({"docs/a.md": "x"}), out, overwrite=True)
    # Then nothing landed outside
    assert not (outside / "a.md").exists()


def test_corrupt_bytes_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        read_zip(b"not a zip")
