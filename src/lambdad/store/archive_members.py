"""Reading a code archive's members: each entry of the zip's central directory checked
(name, depth, size, compression, encryption) and classified as a file, directory or
symbolic link, and every member's data decompressed once against its headers.

What is decided here is per member; the shape of the whole (clashes, links that
leave the root) is ``archive_tree``'s. A rejection is an
``InvalidParameterValueException`` (a 400) whose message says which entry and why,
or ``UNZIP_FAILED`` for an archive or member that cannot be read at all.
"""

from __future__ import annotations

import logging
import lzma
import os
import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from lambdad.errors import InvalidParameterValueException
from lambdad.store.archive_tree import DEFAULT_DIR_MODE, Member, MemberKind

log = logging.getLogger(__name__)

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."

_BOMB_MIN_SIZE = 1 << 20  # ratios of small members say nothing; only big ones can hurt
_SYMLINK_MAX = 4095  # PATH_MAX - 1: no real link target is longer
_NAME_MAX = 255  # bytes per path component on every common Linux file system
# Deeper than any real package (node_modules trees nest a few dozen levels), shallow
# enough that every tool walking the tree, in lambdad or in a function, copes.
MAX_DEPTH = 256
# A name must fit PATH_MAX (4096, with its NUL) below /var/task/ or /opt/.
_MAX_NAME = 4095 - len("/var/task/")
MAX_ENTRIES = 100_000  # entries listed, and directories (listed or implied)
CHUNK = 1 << 20  # bytes decompressed at a time
_DEFAULT_FILE_MODE = 0o644
_SUPPORTED_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_DRIVE = re.compile(r"[A-Za-z]:")
# What zipfile raises for a damaged archive or member; bz2 reports bad data as OSError.
CORRUPT = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


@contextmanager
def open_zip(source: IO[bytes]) -> Iterator[zipfile.ZipFile]:
    """Open ``source`` as a zip archive, or refuse it with ``UNZIP_FAILED``."""
    try:
        zf = zipfile.ZipFile(source)
    except CORRUPT as exc:
        log.info("rejecting upload: not a readable zip archive (%s)", exc)
        raise InvalidParameterValueException(UNZIP_FAILED) from exc
    with zf:
        yield zf


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_ratio: int) -> Member | None:
    """Check the entry ``info`` of ``zf`` and classify it; None for one naming the root."""
    _check_readable(info, max_ratio=max_ratio)
    parts, is_dir = _normalise_name(info)
    if not parts:
        return None  # "./" and the like name the root itself
    return _classify(zf, info, parts, is_dir)


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


def _shown(name: str) -> str:
    """A name for a message: long ones are cut (the limits are about long names)."""
    return repr(name if len(name) <= 120 else name[:100] + "...")


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
    if len(os.fsencode(normal)) > _MAX_NAME:
        raise InvalidParameterValueException(
            f"Archive entry {_shown(raw)} has a path longer than {_MAX_NAME} bytes."
        )
    parts = () if normal == "." else tuple(normal.split("/"))
    if len(parts) > MAX_DEPTH:
        raise InvalidParameterValueException(
            f"Archive entry {_shown(raw)} is {len(parts)} levels deep; at most {MAX_DEPTH} "
            "are allowed."
        )
    for part in parts:
        if len(os.fsencode(part)) > _NAME_MAX:
            raise InvalidParameterValueException(
                f"Archive entry {_shown(raw)} has a path component longer than {_NAME_MAX} bytes."
            )
    is_dir = name.endswith("/")
    if not parts and not is_dir:
        raise InvalidParameterValueException(f"Archive entry {raw!r} is not a valid file name.")
    return parts, is_dir


def _classify(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...], is_dir: bool
) -> Member:
    unix_mode = info.external_attr >> 16
    # A mode without permission bits means "no unix mode": the archive came from a
    # system that does not record them, so fall back to what unzip would give.
    perms = stat.S_IMODE(unix_mode) & 0o777  # never setuid, setgid or sticky
    if is_dir:
        # The owner keeps rwx so lambdad can always fill and later delete the tree.
        return Member(info, parts, MemberKind.DIR, (perms or DEFAULT_DIR_MODE) | 0o700, None)
    if stat.S_ISLNK(unix_mode):
        return Member(info, parts, MemberKind.SYMLINK, 0o777, _read_link_target(zf, info))
    return Member(info, parts, MemberKind.FILE, perms or _DEFAULT_FILE_MODE, None)


def _read_link_target(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size > _SYMLINK_MAX:
        raise InvalidParameterValueException(
            f"Symbolic link {info.filename!r} has a target longer than {_SYMLINK_MAX} bytes."
        )
    try:
        with zf.open(info) as src:
            raw = src.read(_SYMLINK_MAX + 1)
    except CORRUPT as exc:
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


def check_contents(zf: zipfile.ZipFile) -> None:
    """Decompress every member once, as extraction will, and compare what comes out
    with what the headers declare: size and CRC-32. zipfile stops each member at its
    declared size, so the work is bounded by the sizes already accepted."""
    for info in zf.infolist():
        size = 0
        try:
            with zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
        except CORRUPT as exc:
            log.info("rejecting upload: entry %r is corrupt (%s)", info.filename, exc)
            raise InvalidParameterValueException(UNZIP_FAILED) from exc
        if size != info.file_size:
            raise size_mismatch(info, size)


def size_mismatch(info: zipfile.ZipInfo, size: int) -> InvalidParameterValueException:
    """The rejection of an entry whose data is not the size its header declares."""
    return InvalidParameterValueException(
        f"Archive entry {info.filename!r} holds {size} bytes, not the {info.file_size} "
        "bytes its header declares."
    )
