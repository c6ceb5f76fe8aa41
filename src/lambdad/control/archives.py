"""Checks and safe extraction of uploaded function and layer zip archives.

``inspect_archive`` decides whether an upload is acceptable: it checks the central
directory (names, depth, sizes, links, layout), then streams every member through
its decompressor once, with the declared size as a cap, so that an archive whose
headers lie about sizes or checksums is refused at upload instead of failing every
invoke. ``extract_archive`` writes an archive into a directory and never outside
it: it re-runs every check itself, counts the bytes it writes instead of trusting
the headers, never follows a link while writing, and publishes the tree with one
rename so nobody sees half an extraction.

Every check costs time linear in the archive: names are split once and placed in
a tree of the archive (``_Node``), links are resolved once each (memoised), and
extraction walks that tree depth first with one open directory per level, so a
directory is opened once however many members it holds. Nothing here recurses
over the archive's depth.

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
from lambdad.store import trees

log = logging.getLogger(__name__)

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."

_BOMB_MIN_SIZE = 1 << 20  # ratios of small members say nothing; only big ones can hurt
_SYMLINK_MAX = 4095  # PATH_MAX - 1: no real link target is longer
_NAME_MAX = 255  # bytes per path component on every common Linux file system
_MAX_LINK_HOPS = 40  # the kernel's own limit before ELOOP
# Deeper than any real package (node_modules trees nest a few dozen levels), shallow
# enough that every tool walking the tree, in lambdad or in a function, copes.
MAX_DEPTH = 256
# A name must fit PATH_MAX (4096, with its NUL) below /var/task/ or /opt/.
_MAX_NAME = 4095 - len("/var/task/")
MAX_ENTRIES = 100_000  # entries listed, and directories (listed or implied)
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


class _Node:
    """One path of the archive's tree: a directory, or the files and links written at
    that name in archive order (the last one stays). Only a layout the checks refused
    is both; extraction then refuses to write through it."""

    __slots__ = ("children", "dir_member", "dir_mode", "leaves", "name", "parent")

    def __init__(self, name: str, parent: _Node | None) -> None:
        self.name = name
        self.parent = parent
        self.children: dict[str, _Node] = {}
        self.leaves: list[_Member] = []
        self.dir_member: _Member | None = None  # the first entry that made it a directory
        self.dir_mode = _DEFAULT_DIR_MODE  # the last listed directory entry's mode wins

    @property
    def is_dir(self) -> bool:
        return self.dir_member is not None

    @property
    def link_target(self) -> str | None:
        """The target of the link that stays at this path, if a link stays."""
        return self.leaves[-1].target if self.leaves else None

    def path(self) -> str:
        names: list[str] = []
        node: _Node | None = self
        while node is not None and node.parent is not None:
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))


@dataclass(slots=True)
class _Tree:
    root: _Node
    members: list[_Member]
    clash: str | None = None  # the first layout error, in archive order


@dataclass(frozen=True, slots=True)
class _Plan:
    tree: _Tree
    unzipped_size: int
    entries: int


def inspect_archive(
    data: bytes,
    *,
    max_unzipped: int = 262_144_000,
    max_entries: int = MAX_ENTRIES,
    max_ratio: int = 1000,
) -> ArchiveSummary:
    """Validate ``data`` as a code archive without writing anything; raise if unfit."""
    digest = hashlib.sha256(data).digest()
    with _open_zip(io.BytesIO(data)) as zf:
        plan = _plan(zf, max_unzipped=max_unzipped, max_entries=max_entries, max_ratio=max_ratio)
        _check_contents(zf)
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
            _write_tree(zf, plan.tree, tmp, max_unzipped=max_unzipped)
            os.chmod(tmp, _DEFAULT_DIR_MODE)  # mkdtemp makes it 0700
            os.rename(tmp, dest)  # atomically replaces an empty directory too
        except BaseException:
            _remove_partial(tmp)
            raise


def _remove_partial(tmp: Path) -> None:
    """Remove a half-written extraction (directories of any mode, any depth)."""
    try:
        trees.remove_tree(tmp)
    except OSError as exc:
        log.warning("could not remove the partial extraction %s: %s", tmp, exc)


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
    max_entries: int = MAX_ENTRIES,
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
    tree = _build_tree(members, max_dirs=max_entries)
    _check_layout(tree)
    return _Plan(tree, unzipped, len(infos))


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


def _build_tree(members: list[_Member], *, max_dirs: int) -> _Tree:
    """Place every member in a tree of the archive, one look-up per name component.

    Records (without raising: ``_check_layout`` does) the first member, in archive
    order, that clashes: later duplicates replace earlier ones, as with unzip, but a
    path may not be both a directory and a file or link, since writing below a link
    would follow it.
    """
    tree = _Tree(_Node("", None), members)
    dirs = 0

    def clash(message: str) -> None:
        if tree.clash is None:
            tree.clash = message

    for member in members:
        name = member.info.filename
        node = tree.root
        for part in member.parts[:-1]:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node(part, node)
            if child.leaves:
                what = "symbolic link" if child.leaves[-1].kind is _Kind.SYMLINK else "file"
                clash(
                    f"Archive entry {name!r} would be written through the {what} "
                    f"{child.leaves[-1].info.filename!r}."
                )
            if child.dir_member is None:
                child.dir_member = member
                dirs += 1
            node = child
        last = member.parts[-1]
        child = node.children.get(last)
        if child is None:
            child = node.children[last] = _Node(last, node)
        if member.kind is _Kind.DIR:
            other = child.leaves[-1] if child.leaves else None
            if child.dir_member is None:
                child.dir_member = member
                dirs += 1
            child.dir_mode = member.mode
        else:
            other = child.dir_member
            child.leaves.append(member)
        if other is not None:
            clash(
                f"Archive entry {name!r} is both a directory and a file "
                f"(see {other.info.filename!r})."
            )
        if dirs > max_dirs:
            raise InvalidParameterValueException(
                f"The archive holds more than {max_dirs} directories."
            )
    return tree


def _check_layout(tree: _Tree) -> None:
    """Reject names that clash and links that leave the archive root."""
    if tree.clash is not None:
        raise InvalidParameterValueException(tree.clash)
    # Resolve against the final tree, which is what a running function will see,
    # but judge every link: one later replaced still exists for a while on disk.
    links = _Links(tree.root)
    for member in tree.members:
        if member.target is not None and links.escapes(member):
            raise InvalidParameterValueException(
                f"Symbolic link {member.info.filename!r} points outside the archive "
                f"({member.target!r})."
            )


# Where a path leads: a directory of the tree, plus how many components below it do not
# exist in the archive (a path may wander through those and come back with "..").
_Place = tuple[_Node, int]


class _Links:
    """Resolves links as the kernel would, following the archive's other links:
    judging a target's text alone misses chains such as ``a/l1 -> ..`` plus
    ``a/l2 -> l1/..``. Each link is resolved once and remembered, so judging every
    link costs time linear in the targets' lengths, however they chain."""

    def __init__(self, root: _Node) -> None:
        self.root = root
        self._resolved: dict[int, tuple[_Place | None, int]] = {}  # id(node) -> (place, hops)
        self._active: list[_Node] = []

    def escapes(self, member: _Member) -> bool:
        parent = self.root
        for part in member.parts[:-1]:
            parent = parent.children[part]
        assert member.target is not None
        place, _ = self._walk(parent, member.target, member)
        return place is None

    def _follow(self, node: _Node, origin: _Member) -> tuple[_Place | None, int]:
        """Where the link that stays at ``node`` leads (None: outside), and through how
        many links."""
        known = self._resolved.get(id(node))
        if known is not None:
            return known
        if node in self._active or len(self._active) >= _MAX_LINK_HOPS:
            raise _too_many_links(origin)
        target = node.link_target
        assert target is not None
        assert node.parent is not None
        self._active.append(node)
        try:
            place, hops = self._walk(node.parent, target, origin)
        finally:
            self._active.pop()
        self._resolved[id(node)] = (place, hops)
        return place, hops

    def _walk(self, start: _Node, target: str, origin: _Member) -> tuple[_Place | None, int]:
        node, extra, hops = start, 0, 0
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if extra:
                    extra -= 1
                elif node.parent is None:
                    return None, hops
                else:
                    node = node.parent
                continue
            if extra:
                extra += 1
                continue
            child = node.children.get(part)
            if child is None or (child.leaves and child.link_target is None):
                extra = 1  # missing, or below a file: the kernel fails; never an escape
            elif child.leaves:
                place, more = self._follow(child, origin)
                hops += 1 + more
                if hops > _MAX_LINK_HOPS:
                    raise _too_many_links(origin)
                if place is None:
                    return None, hops
                node, extra = place
            else:
                node = child
        return (node, extra), hops


def _too_many_links(member: _Member) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"Symbolic link {member.info.filename!r} resolves through too many links (a link loop)."
    )


def _check_contents(zf: zipfile.ZipFile) -> None:
    """Decompress every member once, as extraction will, and compare what comes out
    with what the headers declare: size and CRC-32. zipfile stops each member at its
    declared size, so the work is bounded by the sizes ``_plan`` already accepted."""
    for info in zf.infolist():
        size = 0
        try:
            with zf.open(info) as src:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
        except _CORRUPT as exc:
            log.info("rejecting upload: entry %r is corrupt (%s)", info.filename, exc)
            raise InvalidParameterValueException(UNZIP_FAILED) from exc
        if size != info.file_size:
            raise _size_mismatch(info, size)


def _size_mismatch(info: zipfile.ZipInfo, size: int) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"Archive entry {info.filename!r} holds {size} bytes, not the {info.file_size} "
        "bytes its header declares."
    )


# --- extraction -----------------------------------------------------------------------


def _write_tree(zf: zipfile.ZipFile, tree: _Tree, root: Path, *, max_unzipped: int) -> None:
    """Write ``tree`` below ``root``, depth first: each directory is opened once (with
    O_NOFOLLOW, relative to its parent) and given its mode once its content is in."""
    budget = _Budget(max_unzipped)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack: list[tuple[_Node, int, Iterator[_Node]]] = [
        (tree.root, root_fd, iter(tree.root.children.values()))
    ]
    try:
        while stack:
            node, fd, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                try:
                    if node.parent is not None:
                        os.fchmod(fd, node.dir_mode)
                finally:
                    os.close(fd)
                continue
            for member in child.leaves:
                _write_leaf(zf, member, fd, budget)
            if child.is_dir:
                stack.append((child, _enter(fd, child), iter(child.children.values())))
    finally:
        for _, fd, _ in stack:
            os.close(fd)


def _enter(parent_fd: int, node: _Node) -> int:
    """Open (creating it) the directory ``node`` in ``parent_fd``, never through a link."""
    with suppress(FileExistsError):
        os.mkdir(node.name, 0o700, dir_fd=parent_fd)
    try:
        return os.open(
            node.name,
            os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
            dir_fd=parent_fd,
        )
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        raise InvalidParameterValueException(
            f"Archive path {node.path()!r} is not a directory; refusing to write through it."
        ) from exc


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
        if written != member.info.file_size:
            raise _size_mismatch(member.info, written)
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
