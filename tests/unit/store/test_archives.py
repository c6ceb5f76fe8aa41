"""Checks and extraction of uploaded code archives (lambdad.store.archives)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from lambdad.errors import InvalidParameterValueException
from lambdad.store import archives
from lambdad.store.archives import UNZIP_FAILED, extract_archive, inspect_archive

# (name, content, unix mode or None for "the zip carries no unix mode")
Entry = tuple[str, bytes, int | None]


def file(name: str, content: bytes = b"x", mode: int | None = 0o644) -> Entry:
    return (name, content, None if mode is None else stat.S_IFREG | mode)


def directory(name: str, mode: int | None = None) -> Entry:
    return (name, b"", None if mode is None else stat.S_IFDIR | mode)


def symlink(name: str, target: str) -> Entry:
    return (name, target.encode(), stat.S_IFLNK | 0o777)


def build(*entries: Entry, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are on purpose
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, content, mode in entries:
                info = zipfile.ZipInfo(name)
                info.compress_type = method
                if mode is None:
                    # As a Windows tool writes it: MS-DOS attributes only (zipfile
                    # itself would turn a zero into 0o600).
                    info.create_system = 0
                    info.external_attr = 0x10 if name.endswith("/") else 0x20
                else:
                    info.external_attr = mode << 16
                zf.writestr(info, content)
    return buf.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def snapshot(root: Path) -> dict[str, str]:
    """Every path below root (links not followed) with what it is."""
    seen: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            seen[str(path.relative_to(root))] = kind
    return seen


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    # Two empty levels between tmp_path and dest, so an escape of up to three
    # levels still lands inside tmp_path where snapshot() sees it.
    (tmp_path / "outer" / "inner").mkdir(parents=True)
    return tmp_path / "outer" / "inner" / "task"


def assert_rejected(data: bytes, dest: Path, tmp_path: Path, message: str) -> None:
    """Both entry points refuse ``data`` and extraction leaves tmp_path as it was."""
    with pytest.raises(InvalidParameterValueException, match=re.escape(message)):
        inspect_archive(data)
    before = snapshot(tmp_path)
    with pytest.raises(InvalidParameterValueException, match=re.escape(message)):
        extract_archive(data, dest)
    assert snapshot(tmp_path) == before
    assert not dest.exists()


def test_good_archive_round_trips_with_modes(dest: Path) -> None:
    data = build(
        file("bootstrap", b"#!/bin/sh\necho hi\n", 0o755),
        file("handler.py", b"def handler(e, c): pass\n", mode=None),
        directory("lib/"),
        file("lib/util.py", b"X = 1\n"),
        file("pkg/mod.py", b"Y = 2\n"),
        file("tool", b"bin", 0o4755),
        symlink("current", "lib"),
        symlink("lib/up", "../pkg/mod.py"),
        file("pkg/../norm.py", b"N"),
    )

    extract_archive(data, dest)

    assert (dest / "bootstrap").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((dest / "bootstrap").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "handler.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "lib").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "pkg").stat().st_mode) == 0o755
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    # Permission bits survive; setuid never does.
    assert stat.S_IMODE((dest / "tool").stat().st_mode) == 0o755
    assert os.readlink(dest / "current") == "lib"
    assert (dest / "current" / "util.py").read_bytes() == b"X = 1\n"
    assert (dest / "lib" / "up").read_bytes() == b"Y = 2\n"
    assert (dest / "norm.py").read_bytes() == b"N"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["task"]  # no temp dir left


def test_summary_reports_aws_code_sha256_and_sizes() -> None:
    data = build(file("a.py", b"a" * 1000), file("b/c.py", b"bc"), directory("d/"))

    summary = inspect_archive(data)

    digest = hashlib.sha256(data).digest()
    assert summary.code_sha256 == base64.b64encode(digest).decode()
    assert summary.sha256_hex == digest.hex()
    assert summary.size == len(data)
    assert summary.unzipped_size == 1002
    assert summary.entries == 3


def test_extracts_into_existing_empty_directory_and_from_a_path(tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    archive.write_bytes(build(file("index.py", b"ok")))
    dest = tmp_path / "task"
    dest.mkdir()

    extract_archive(archive, dest)

    assert (dest / "index.py").read_bytes() == b"ok"


def test_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "keep").write_bytes(b"mine")

    with pytest.raises(FileExistsError):
        extract_archive(build(file("index.py")), tmp_path / "task")
    assert snapshot(tmp_path) == {"task": "dir", "task/keep": "file"}


def test_later_duplicate_wins(dest: Path) -> None:
    data = build(file("a.txt", b"first"), file("a.txt", b"second"), symlink("l", "a.txt"))

    extract_archive(data, dest)

    assert (dest / "a.txt").read_bytes() == b"second"
    assert (dest / "l").read_bytes() == b"second"
    assert inspect_archive(data).entries == 3


def test_backslash_separators_become_directories(dest: Path) -> None:
    extract_archive(build(file("pkg\\mod.py", b"m")), dest)

    assert (dest / "pkg" / "mod.py").read_bytes() == b"m"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"this is not a zip file", id="not-a-zip"),
        pytest.param(b"", id="empty"),
        pytest.param(truncated(build(file("a.py", bytes(range(256)) * 20))), id="truncated"),
    ],
)
def test_unreadable_archive_gets_aws_message(data: bytes, dest: Path, tmp_path: Path) -> None:
    assert_rejected(data, dest, tmp_path, UNZIP_FAILED)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../x", "'../x' points outside the archive"),
        ("a/../../x", "'a/../../x' points outside the archive"),
        ("..\\x", "'..\\\\x' points outside the archive"),
        ("/etc/x", "'/etc/x' has an absolute path"),
        ("\\x", "'\\\\x' has an absolute path"),
        ("C:\\x", "'C:\\\\x' starts with a drive letter"),
        ("c:x", "'c:x' starts with a drive letter"),
        ("a" * 256, "longer than 255 bytes"),
    ],
)
def test_unsafe_names_are_rejected(name: str, message: str, dest: Path, tmp_path: Path) -> None:
    assert_rejected(build(file("ok.py"), file(name)), dest, tmp_path, message)


def test_nul_in_a_name_is_rejected(dest: Path, tmp_path: Path) -> None:
    # zipfile cannot write a NUL in a name, so write a placeholder and patch it.
    data = build(file("evilQsuffix.py")).replace(b"evilQsuffix", b"evil\x00suffix")

    assert_rejected(data, dest, tmp_path, "'evil\\x00suffix.py' contains a NUL")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param(
            [symlink("passwd", "/etc/passwd")],
            "'passwd' points to the absolute path '/etc/passwd'",
            id="absolute",
        ),
        pytest.param(
            [symlink("a", "../..")], "'a' points outside the archive ('../..')", id="up-two"
        ),
        pytest.param(
            [symlink("link", ".."), file("link/evil", b"pwned")],
            "'link/evil' would be written through the symbolic link 'link'",
            id="write-through-escaping-link",
        ),
        pytest.param(
            [directory("real/"), symlink("link", "real"), file("link/evil")],
            "'link/evil' would be written through the symbolic link 'link'",
            id="write-through-inner-link",
        ),
        pytest.param(
            [file("link/evil"), symlink("link", "real")],
            "'link' is both a directory and a file",
            id="link-over-directory",
        ),
        pytest.param(
            # Each target looks harmless on its own; l2 -> l1/.. climbs above the root.
            [symlink("a/b/l1", "../.."), symlink("a/b/l2", "l1/..")],
            "'a/b/l2' points outside the archive",
            id="chained-links",
        ),
        pytest.param([symlink("x", "y"), symlink("y", "x")], "too many links", id="link-loop"),
        pytest.param(
            [symlink("long", "a/" * 2500)], "target longer than 4095 bytes", id="long-target"
        ),
        pytest.param(
            [file("a", b"file"), file("a/b")],
            "'a/b' would be written through the file 'a'",
            id="file-used-as-directory",
        ),
    ],
)
def test_unsafe_links_and_layouts_are_rejected(
    entries: list[Entry], message: str, dest: Path, tmp_path: Path
) -> None:
    assert_rejected(build(file("ok.py"), *entries), dest, tmp_path, message)


def test_extraction_does_not_write_through_links_even_unchecked(
    dest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second line of defence: with the layout checks gone, the O_NOFOLLOW
    # walk alone must still refuse to follow the planted link.
    monkeypatch.setattr(archives, "check_layout", lambda tree: None)
    data = build(symlink("link", "../.."), file("link/evil", b"pwned"))

    before = snapshot(tmp_path)
    with pytest.raises(InvalidParameterValueException, match="'link' is not a directory"):
        extract_archive(data, dest)
    assert snapshot(tmp_path) == before


def test_declared_sizes_over_the_limit_are_rejected(dest: Path, tmp_path: Path) -> None:
    data = build(file("a.bin", b"a" * 600), file("b.bin", b"b" * 600))

    assert inspect_archive(data, max_unzipped=1200).unzipped_size == 1200
    with pytest.raises(InvalidParameterValueException) as info:
        inspect_archive(data, max_unzipped=1199)
    assert info.value.message == "Unzipped size must be smaller than 1199 bytes"
    before = snapshot(tmp_path)
    with pytest.raises(InvalidParameterValueException, match="smaller than 1199 bytes"):
        extract_archive(data, dest, max_unzipped=1199)
    assert snapshot(tmp_path) == before


def test_too_many_entries_are_rejected() -> None:
    data = build(*(file(f"f{i}.py") for i in range(4)))

    assert inspect_archive(data, max_entries=4).entries == 4
    with pytest.raises(InvalidParameterValueException, match="4 entries; at most 3"):
        inspect_archive(data, max_entries=3)


def test_compression_bomb_is_rejected() -> None:
    bomb = build(file("zeros.bin", bytes(4 << 20)))
    small_but_dense = build(file("zeros.bin", bytes(512 << 10)))

    with pytest.raises(
        InvalidParameterValueException, match=r"'zeros\.bin' expands .* above 100:1"
    ):
        inspect_archive(bomb, max_ratio=100)
    assert inspect_archive(small_but_dense, max_ratio=100).entries == 1


def test_encrypted_member_is_rejected(dest: Path, tmp_path: Path) -> None:
    data = bytearray(build(file("a.py", b"secret")))
    struct.pack_into("<H", data, 6, 1)  # local header flag bits: encrypted
    struct.pack_into("<H", data, data.rindex(b"PK\x01\x02") + 8, 1)  # central directory

    assert_rejected(bytes(data), dest, tmp_path, UNZIP_FAILED)


def test_corrupt_member_is_caught_by_inspection_and_extraction(dest: Path, tmp_path: Path) -> None:
    data = build(file("a.py", b"hello world"), method=zipfile.ZIP_STORED)
    data = data.replace(b"hello world", b"jello world")  # the CRC-32 no longer matches

    assert_rejected(data, dest, tmp_path, UNZIP_FAILED)


def lying_archive(content: bytes, declared: int, *, matching_crc: bool) -> bytes:
    """An archive whose headers claim ``declared`` bytes for ``content``."""
    data = bytearray(build(file("big.bin", content)))
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, 22, declared)  # local header: uncompressed size
    struct.pack_into("<I", data, central + 24, declared)  # central directory: same
    if matching_crc:
        crc = zlib.crc32(content[:declared])
        struct.pack_into("<I", data, 14, crc)
        struct.pack_into("<I", data, central + 16, crc)
    return bytes(data)


def test_member_lying_about_its_size_is_refused_at_upload_and_extraction(
    dest: Path, tmp_path: Path
) -> None:
    data = lying_archive(bytes(8 << 20), 1000, matching_crc=False)

    assert_rejected(data, dest, tmp_path, UNZIP_FAILED)


def test_member_shorter_than_declared_is_refused(dest: Path, tmp_path: Path) -> None:
    # The CRC-32 matches what is there; the header promises more than there is.
    data = lying_archive(b"short", 1000, matching_crc=False)

    assert_rejected(data, dest, tmp_path, "holds 5 bytes, not the 1000 bytes")


def test_member_lying_consistently_never_writes_more_than_declared(dest: Path) -> None:
    # Headers and CRC-32 agree on the first 1000 bytes: that is all zipfile yields, so
    # what is checked at upload is what extraction writes.
    data = lying_archive(bytes(8 << 20), 1000, matching_crc=True)

    assert inspect_archive(data, max_unzipped=2000).unzipped_size == 1000
    extract_archive(data, dest, max_unzipped=2000)

    assert (dest / "big.bin").stat().st_size == 1000


def test_depth_limit_is_checked_at_upload_and_extraction(dest: Path, tmp_path: Path) -> None:
    deepest = "d/" * (archives.MAX_DEPTH - 1) + "f.py"  # MAX_DEPTH components: allowed
    assert inspect_archive(build(file(deepest))).entries == 1
    extract_archive(build(file(deepest)), dest)
    assert (dest / deepest).read_bytes() == b"x"

    too_deep = build(file("ok.py"), file("d/" * archives.MAX_DEPTH + "f.py"))
    assert_rejected(
        too_deep,
        tmp_path / "other",
        tmp_path,
        f"is {archives.MAX_DEPTH + 1} levels deep; at most {archives.MAX_DEPTH} are allowed",
    )


def test_the_2000_level_attack_is_refused_without_reading_it_all() -> None:
    # Was 61 s of CPU (quadratic prefix checks); refused at the first deep name now.
    data = build(*(file("d/" * 2000 + f"f{i}") for i in range(200)), method=zipfile.ZIP_STORED)
    with pytest.raises(InvalidParameterValueException, match="2001 levels deep"):
        inspect_archive(data)


def test_names_longer_than_path_max_are_refused(dest: Path, tmp_path: Path) -> None:
    long_name = "/".join(["x" * 200] * 21)  # 21 components, 4220 bytes
    assert_rejected(build(file(long_name)), dest, tmp_path, "has a path longer than 4085 bytes")


def test_directory_count_is_limited_like_entries() -> None:
    # Three entries, but each implies its own chain of directories.
    data = build(*(file(f"{i}/a/b/c.py") for i in range(3)))
    assert inspect_archive(data, max_entries=9).entries == 3
    with pytest.raises(InvalidParameterValueException, match="more than 8 directories"):
        inspect_archive(data, max_entries=8)


def test_long_link_chains_resolve_once_each(dest: Path) -> None:
    # l0 -> target, l1 -> l0, ... : judging every link follows the whole chain behind it
    # each time; remembered resolutions keep that linear, and the kernel's 40-hop limit
    # still applies to the chain as a whole.
    chain = [directory("target/"), symlink("l0", "target")]
    chain += [symlink(f"l{i}", f"l{i - 1}") for i in range(1, 40)]
    extract_archive(build(*chain), dest)
    assert os.readlink(dest / "l39") == "l38"

    with pytest.raises(InvalidParameterValueException, match="too many links"):
        inspect_archive(build(*chain, symlink("l40", "l39"), symlink("l41", "l40")))


def test_links_through_links_that_climb_back_down(dest: Path, tmp_path: Path) -> None:
    # up -> .., then a/b/x -> ../../a/up/a: inside; a/b/y -> ../up/../..: outside.
    inside = build(directory("a/b/"), symlink("a/up", ".."), symlink("a/b/x", "../up/a"))
    extract_archive(inside, dest)
    outside = build(directory("a/b/"), symlink("a/up", ".."), symlink("a/b/y", "../up/.."))
    assert_rejected(outside, tmp_path / "t2", tmp_path, "'a/b/y' points outside the archive")
