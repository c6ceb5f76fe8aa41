"""Checks and safe extraction of uploaded function and layer zip archives.

``inspect_archive`` decides whether an upload is acceptable by reading only the
central directory (and the few bytes of each symbolic link), so a 50 MB upload
is judged without being decompressed. ``extract_archive`` writes an archive into
a directory and never outside it: it re-runs every check itself, counts the bytes
it writes instead of trusting the headers, never follows a link while writing,
and publishes the tree with one rename so nobody sees half an extraction.

Every rejection is an ``InvalidParameterValueException`` (a 400), never a 500.
The zipped-size limit (``RequestTooLargeException``) is decided by the caller.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import logging
import lzma
import os
import posixpath
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO

from lambdad.errors import InvalidParameterValueException

log = logging.getLogger(__name__)

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."

_BOMB_MIN_SIZE = 1 << 20  # ratios of small members say nothing; only big ones can hurt
_SYMLINK_MAX = 4095  # PATH_MAX - 1: no real link target is longer
_NAME_MAX = 255  # bytes per path component on every common Linux file system
_MAX_LINK_HOPS = 40  # the kernel's own limit before ELOOP
_CHUNK = 1 << 20
_DEFAULT_FILE_MODE = 0o644
_DEFAULT_DIR_MODE = 0o755
_SUPPORTED_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_DRIVE = re.compile(r"[A-Za-z]:")
# What zipfile raises for a damaged archive or member; bz2 reports bad data as OSError.
_CORRUPT = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


@dataclass(frozen=True, slots=True)
class ArchiveSummary:
    sha256_hex: str
    code_sha256: str  # base64 of the raw SHA-256 digest of the zip bytes (AWS's CodeSha256)
    size: int  # zipped bytes (AWS's CodeSize)
    unzipped_size: int
    entries: int


class _Kind(Enum):
    FILE = "file"
    DIR = "directory"
    SYMLINK = "symbolic link"


@dataclass(frozen=True, slots=True)
class _Member:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # normalised path components below the archive root
    kind: _Kind
    mode: int  # permission bits to give the file or directory
    target: str | None  # link target, for symbolic links only


@dataclass(frozen=True, slots=True)
class _Plan:
    members: list[_Member]
    unzipped_size: int
    entries: int


def inspect_archive(
    data: bytes,
    *,
    max_unzipped: int = 262_144_000,
    max_entries: int = 100_000,
    max_ratio: int = 1000,
) -> ArchiveSummary:
    """Validate ``data`` as a code archive without writing anything; raise if unfit."""
    digest = hashlib.sha256(data).digest()
    with _open_zip(io.BytesIO(data)) as zf:
        plan = _plan(zf, max_unzipped=max_unzipped, max_entries=max_entries, max_ratio=max_ratio)
    return ArchiveSummary(
        sha256_hex=digest.hex(),
        code_sha256=base64.b64encode(digest).decode("ascii"),
        size=len(data),
        unzipped_size=plan.unzipped_size,
        entries=plan.entries,
    )


def extract_archive(
    data_or_path: bytes | Path, dest: Path, *, max_unzipped: int = 262_144_000
) -> None:
    """Extract an archive so that ``dest`` holds its tree, or raise and leave nothing.

    ``dest`` must be missing or an empty directory; its parent must exist. The tree
    is built in a sibling temporary directory and renamed onto ``dest``, so a
    concurrent reader sees either nothing or everything. If another extraction
    fills ``dest`` first, the rename fails with ``OSError`` and ours is removed.
    """
    if dest.is_dir() and any(dest.iterdir()):
        raise FileExistsError(errno.ENOTEMPTY, "extraction target is not empty", str(dest))
    source: IO[bytes] = (
        io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path.open("rb")
    )
    with source, _open_zip(source) as zf:
        # Never trust that inspect_archive ran on these bytes: check everything again.
        plan = _plan(zf, max_unzipped=max_unzipped)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        try:
            _write_tree(zf, plan, tmp, max_unzipped=max_unzipped)
            os.chmod(tmp, _DEFAULT_DIR_MODE)  # mkdtemp makes it 0700
            os.rename(tmp, dest)  # atomically replaces an empty directory too
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


# --- validation -----------------------------------------------------------------------


@contextmanager
def _open_zip(source: IO[bytes]) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(source)
    except _CORRUPT as exc:
        log.info("rejecting upload: not a readable zip archive (%s)", exc)
        raise InvalidParameterValueException(UNZIP_FAILED) from exc
    with zf:
        yield zf


def _plan(
    zf: zipfile.ZipFile,
    *,
    max_unzipped: int,
    max_entries: int = 100_000,
    max_ratio: int = 1000,
) -> _Plan:
    """Check every member of ``zf`` and return what extracting it would create."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise InvalidParameterValueException(
            f"The archive has {len(infos)} entries; at most {max_entries} are allowed."
        )
    # Declared sizes are checked first and summed over duplicates too, because
    # extraction writes every copy before the last one wins.
    unzipped = sum(info.file_size for info in infos)
    if unzipped > max_unzipped:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {max_unzipped} bytes"
        )
    members: list[_Member] = []
    for info in infos:
        _check_readable(info, max_ratio=max_ratio)
        parts, is_dir = _normalise_name(info)
        if not parts:
            continue  # "./" and the like name the root itself
        members.append(_classify(zf, info, parts, is_dir))
    _check_layout(members)
    return _Plan(members, unzipped, len(infos))


def _check_readable(info: zipfile.ZipInfo, *, max_ratio: int) -> None:
    if info.flag_bits & 0x1 or info.compress_type not in _SUPPORTED_METHODS:
        # Encrypted or compressed with a method we cannot decompress.
        log.info(
            "rejecting upload: entry %r is encrypted or uses method %d",
            info.filename,
            info.compress_type,
        )
        raise InvalidParameterValueException(UNZIP_FAILED)
    if info.file_size > _BOMB_MIN_SIZE and info.file_size > max_ratio * max(info.compress_size, 1):
        raise InvalidParameterValueException(
            f"Archive entry {info.filename!r} expands {info.compress_size} bytes to "
            f"{info.file_size} bytes, a compression ratio above {max_ratio}:1; "
            "the archive looks like a compression bomb."
        )


def _normalise_name(info: zipfile.ZipInfo) -> tuple[tuple[str, ...], bool]:
    """Return the member's path components and whether it names a directory."""
    raw = info.orig_filename  # zipfile silently cuts ``filename`` at a NUL
    if "\x00" in raw:
        raise InvalidParameterValueException(
            f"Archive entry {raw!r} contains a NUL character in its name."
        )
    # Archives made on Windows may separate with backslashes; unzip reads them as
    # separators too, and treating them so is what exposes "..\\x" and "C:\\x".
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        raise InvalidParameterValueException(f"Archive entry {raw!r} has an absolute path.")
    if _DRIVE.match(name):
        raise InvalidParameterValueException(f"Archive entry {raw!r} starts with a drive letter.")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../"):
        raise InvalidParameterValueException(
            f"Archive entry {raw!r} points outside the archive (path traversal)."
        )
    parts = () if normal == "." else tuple(normal.split("/"))
    for part in parts:
        if len(os.fsencode(part)) > _NAME_MAX:
            raise InvalidParameterValueException(
                f"Archive entry {raw!r} has a path component longer than {_NAME_MAX} bytes."
            )
    is_dir = name.endswith("/")
    if not parts and not is_dir:
        raise InvalidParameterValueException(f"Archive entry {raw!r} is not a valid file name.")
    return parts, is_dir


def _classify(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...], is_dir: bool
) -> _Member:
    unix_mode = info.external_attr >> 16
    # A mode without permission bits means "no unix mode": the archive came from a
    # system that does not record them, so fall back to what unzip would give.
    perms = stat.S_IMODE(unix_mode) & 0o777  # never setuid, setgid or sticky
    if is_dir:
        # The owner keeps rwx so lambdad can always fill and later delete the tree.
        return _Member(info, parts, _Kind.DIR, (perms or _DEFAULT_DIR_MODE) | 0o700, None)
    if stat.S_ISLNK(unix_mode):
        return _Member(info, parts, _Kind.SYMLINK, 0o777, _read_link_target(zf, info))
    return _Member(info, parts, _Kind.FILE, perms or _DEFAULT_FILE_MODE, None)


def _read_link_target(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size > _SYMLINK_MAX:
        raise InvalidParameterValueException(
            f"Symbolic link {info.filename!r} has a target longer than {_SYMLINK_MAX} bytes."
        )
    try:
        with zf.open(info) as src:
            raw = src.read(_SYMLINK_MAX + 1)
    except _CORRUPT as exc:
        log.info("rejecting upload: symbolic link %r is unreadable (%s)", info.filename, exc)
        raise InvalidParameterValueException(UNZIP_FAILED) from exc
    target = os.fsdecode(raw)
    if not target or "\x00" in target:
        raise InvalidParameterValueException(
            f"Symbolic link {info.filename!r} has an empty or invalid target."
        )
    if target.startswith("/"):
        raise InvalidParameterValueException(
            f"Symbolic link {info.filename!r} points to the absolute path {target!r}."
        )
    return target


def _check_layout(members: list[_Member]) -> None:
    """Reject names that clash and links that leave the archive root.

    Later duplicates replace earlier ones, as with unzip, but a path may not be
    both a directory and a file or link: writing below a link would follow it.
    """
    leaves: dict[tuple[str, ...], _Member] = {}
    dirs: dict[tuple[str, ...], _Member] = {}
    for member in members:
        name = member.info.filename
        for depth in range(1, len(member.parts)):
            prefix = member.parts[:depth]
            clash = leaves.get(prefix)
            if clash is not None:
                what = "symbolic link" if clash.kind is _Kind.SYMLINK else "file"
                raise InvalidParameterValueException(
                    f"Archive entry {name!r} would be written through the {what} "
                    f"{clash.info.filename!r}."
                )
            dirs.setdefault(prefix, member)
        if member.kind is _Kind.DIR:
            clash = leaves.get(member.parts)
            dirs.setdefault(member.parts, member)
        else:
            clash = dirs.get(member.parts)
            leaves[member.parts] = member
        if clash is not None:
            raise InvalidParameterValueException(
                f"Archive entry {name!r} is both a directory and a file "
                f"(see {clash.info.filename!r})."
            )
    # Resolve against the final tree, which is what a running function will see,
    # but judge every link: one later replaced still exists for a while on disk.
    links = {parts: m.target for parts, m in leaves.items() if m.target is not None}
    for member in members:
        if member.target is not None and _escapes(member.parts, member.target, links):
            raise InvalidParameterValueException(
                f"Symbolic link {member.info.filename!r} points outside the archive "
                f"({member.target!r})."
            )


def _escapes(link: tuple[str, ...], target: str, links: dict[tuple[str, ...], str]) -> bool:
    """Whether following ``link`` leaves the archive root.

    The walk follows the archive's other links as the kernel would: judging the
    target text alone misses chains such as ``a/l1 -> ..`` plus ``a/l2 -> l1/..``.
    """
    here = list(link[:-1])
    pending = list(reversed(target.split("/")))
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not here:
                return True
            here.pop()
            continue
        here.append(part)
        next_target = links.get(tuple(here))
        if next_target is not None:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise InvalidParameterValueException(
                    f"Symbolic link {'/'.join(link)!r} resolves through too many links "
                    "(a link loop)."
                )
            here.pop()
            pending.extend(reversed(next_target.split("/")))
    return False


# --- extraction -----------------------------------------------------------------------


def _write_tree(zf: zipfile.ZipFile, plan: _Plan, root: Path, *, max_unzipped: int) -> None:
    dir_modes: dict[tuple[str, ...], int] = {}
    budget = _Budget(max_unzipped)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    # Consecutive members usually share a directory; keep its descriptor open.
    cached: tuple[tuple[str, ...], int] | None = None
    try:
        for member in plan.members:
            if member.kind is _Kind.DIR:
                os.close(_walk(root_fd, member.parts, dir_modes))
                dir_modes[member.parts] = member.mode
                continue
            parent = member.parts[:-1]
            if cached is None or cached[0] != parent:
                if cached is not None:
                    os.close(cached[1])
                    cached = None  # closed: the finally below must not close it again
                cached = (parent, _walk(root_fd, parent, dir_modes))
            _write_leaf(zf, member, cached[1], budget)
        for parts, mode in dir_modes.items():
            fd = _walk(root_fd, parts, None)
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
    finally:
        if cached is not None:
            os.close(cached[1])
        os.close(root_fd)


def _walk(root_fd: int, parts: tuple[str, ...], created: dict[tuple[str, ...], int] | None) -> int:
    """Open (creating, when ``created`` is given) the directory ``parts`` below root.

    Each step is opened relative to the last with O_NOFOLLOW, so a link planted
    in the tree can never redirect a write outside it.
    """
    fd = os.dup(root_fd)
    try:
        for depth, part in enumerate(parts, start=1):
            if created is not None:
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                    created.setdefault(parts[:depth], _DEFAULT_DIR_MODE)
                except FileExistsError:
                    pass
            try:
                next_fd = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
                )
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                raise InvalidParameterValueException(
                    f"Archive path {'/'.join(parts[:depth])!r} is not a directory; refusing "
                    "to write through it."
                ) from exc
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_leaf(zf: zipfile.ZipFile, member: _Member, dir_fd: int, budget: _Budget) -> None:
    name = member.parts[-1]
    with suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)  # a later duplicate wins; unlink never follows
    if member.target is not None:
        budget.take(member, len(os.fsencode(member.target)), 0)
        os.symlink(member.target, name, dir_fd=dir_fd)
        return
    # O_EXCL|O_NOFOLLOW: the name was just cleared, so anything there now is hostile.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    with open(fd, "wb", closefd=True) as dst:
        written = 0
        try:
            src = zf.open(member.info)
        except _CORRUPT as exc:
            raise _unzip_failed(member, exc) from exc
        with src:
            while True:
                try:
                    chunk = src.read(_CHUNK)
                except _CORRUPT as exc:
                    raise _unzip_failed(member, exc) from exc
                if not chunk:
                    break
                budget.take(member, len(chunk), written)
                written += len(chunk)
                dst.write(chunk)
        os.fchmod(dst.fileno(), member.mode)


class _Budget:
    """Counts bytes actually written, so a header that lies cannot exceed the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, member: _Member, n: int, written_so_far: int) -> None:
        if written_so_far + n > member.info.file_size and member.kind is _Kind.FILE:
            raise InvalidParameterValueException(
                f"Archive entry {member.info.filename!r} holds more data than its header "
                f"declares ({member.info.file_size} bytes)."
            )
        if self.used + n > self.limit:
            raise InvalidParameterValueException(
                f"Unzipped size must be smaller than {self.limit} bytes"
            )
        self.used += n


def _unzip_failed(member: _Member, exc: BaseException) -> InvalidParameterValueException:
    log.info("rejecting upload: entry %r is corrupt (%s)", member.info.filename, exc)
    return InvalidParameterValueException(UNZIP_FAILED)
