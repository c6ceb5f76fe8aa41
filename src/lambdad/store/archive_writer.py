"""Writing a checked archive tree to disk, never outside its root.

``write_tree`` walks the tree of ``archive_tree`` depth first with one open directory
per level, each opened with ``O_NOFOLLOW`` relative to its parent, so a directory is
opened once however many members it holds and a planted link is never followed even
if the layout checks missed it. It counts the bytes it writes instead of trusting the
headers. Nothing here recurses over the archive's depth.
"""

from __future__ import annotations

import errno
import logging
import os
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from lambdad.errors import InvalidParameterValueException
from lambdad.store.archive_members import CHUNK, CORRUPT, UNZIP_FAILED, size_mismatch
from lambdad.store.archive_tree import Member, MemberKind, Node, Tree

log = logging.getLogger(__name__)


def write_tree(zf: zipfile.ZipFile, tree: Tree, root: Path, *, max_unzipped: int) -> None:
    """Write ``tree`` below ``root``, depth first: each directory is opened once (with
    O_NOFOLLOW, relative to its parent) and given its mode once its content is in."""
    budget = _Budget(max_unzipped)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack: list[tuple[Node, int, Iterator[Node]]] = [
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


def _enter(parent_fd: int, node: Node) -> int:
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


def _write_leaf(zf: zipfile.ZipFile, member: Member, dir_fd: int, budget: _Budget) -> None:
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
        except CORRUPT as exc:
            raise _unzip_failed(member, exc) from exc
        with src:
            while True:
                try:
                    chunk = src.read(CHUNK)
                except CORRUPT as exc:
                    raise _unzip_failed(member, exc) from exc
                if not chunk:
                    break
                budget.take(member, len(chunk), written)
                written += len(chunk)
                dst.write(chunk)
        if written != member.info.file_size:
            raise size_mismatch(member.info, written)
        os.fchmod(dst.fileno(), member.mode)


class _Budget:
    """Counts bytes actually written, so a header that lies cannot exceed the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, member: Member, n: int, written_so_far: int) -> None:
        if written_so_far + n > member.info.file_size and member.kind is MemberKind.FILE:
            raise InvalidParameterValueException(
                f"Archive entry {member.info.filename!r} holds more data than its header "
                f"declares ({member.info.file_size} bytes)."
            )
        if self.used + n > self.limit:
            raise InvalidParameterValueException(
                f"Unzipped size must be smaller than {self.limit} bytes"
            )
        self.used += n


def _unzip_failed(member: Member, exc: BaseException) -> InvalidParameterValueException:
    log.info("rejecting upload: entry %r is corrupt (%s)", member.info.filename, exc)
    return InvalidParameterValueException(UNZIP_FAILED)
