"""Walks over directory trees whose shape a tenant chose: extracted code and /opt trees.

A tenant's archive decides how deep and wide these trees are, so nothing here
recurses (``os.walk``, ``shutil.rmtree`` and ``Path.rglob`` recurse once per level on
Python 3.11) and nothing builds a full path (a deep tree's paths outgrow PATH_MAX).
Every step is one system call relative to the directory above it, and links are
never followed. One directory descriptor is open per walk: going back up opens
``..`` and checks it is the directory we came from, so a tree a million levels deep
costs no more descriptors than a flat one.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1 << 20

# (directory descriptor, its subdirectories, its other entries): may prune subdirectories.
OnDir = Callable[[int, list[str], list[str]], None]
# (parent directory descriptor, name of a subdirectory).
OnSubdir = Callable[[int, str], None]


def walk(
    dir_fd: int,
    *,
    on_dir: OnDir | None = None,
    before: OnSubdir | None = None,
    after: OnSubdir | None = None,
) -> None:
    """Visit the directory open as ``dir_fd`` and every directory below it, top down.

    ``on_dir`` sees each directory's listing (and may remove names from its list of
    subdirectories to skip them); ``before`` runs in the parent before a subdirectory
    is entered, ``after`` once it has been left. ``dir_fd`` is the caller's (not
    closed). Entries that vanish while walking are skipped.
    """
    fd = os.dup(dir_fd)
    try:
        # Per level: the directory's (device, inode), its name, its unvisited subdirectories.
        levels = [(_id(fd), "", iter(_list(fd, on_dir)))]
        while levels:
            name = next(levels[-1][2], None)
            if name is None:
                _, left, _ = levels.pop()
                if levels:
                    fd = _checked_up(fd, levels[-1][0])
                    if after is not None:
                        after(fd, left)
                continue
            if before is not None:
                before(fd, name)
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    continue  # gone, or replaced by something else, since the listing
                raise
            os.close(fd)
            fd = child
            levels.append((_id(fd), name, iter(_list(fd, on_dir))))
    finally:
        os.close(fd)


def _list(fd: int, on_dir: OnDir | None) -> list[str]:
    subdirs: list[str] = []
    others: list[str] = []
    with os.scandir(fd) as entries:
        for entry in entries:
            (subdirs if entry.is_dir(follow_symlinks=False) else others).append(entry.name)
    if on_dir is not None:
        on_dir(fd, subdirs, others)
    return subdirs


def _id(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _checked_up(fd: int, expected: tuple[int, int]) -> int:
    """The parent of ``fd`` (which is closed), checked to be the directory we came from."""
    parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
    if _id(parent) != expected:
        os.close(parent)
        raise OSError(errno.ESTALE, "directory moved while walking its tree")
    os.close(fd)
    return parent


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything below it, whatever the modes (a missing path is
    no error; a link is removed, never followed)."""
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        remove_at(parent, path.name)
    finally:
        os.close(parent)


def remove_at(dir_fd: int, name: str) -> None:
    """Remove the entry ``name`` of ``dir_fd`` and everything below it."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        return
    os.chmod(name, stat.S_IRWXU, dir_fd=dir_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        walk(fd, on_dir=_unlink_others, before=_make_enterable, after=_rmdir)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def _unlink_others(fd: int, subdirs: list[str], others: list[str]) -> None:
    for name in others:
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=fd)


def _make_enterable(fd: int, name: str) -> None:
    os.chmod(name, stat.S_IRWXU, dir_fd=fd)


def _rmdir(fd: int, name: str) -> None:
    os.rmdir(name, dir_fd=fd)


def make_read_only(path: Path, *, files: bool = True) -> None:
    """Directories 0555 and (with ``files``) regular files without write bits, readable
    by everyone: what an unprivileged runtime may see but not change."""

    def on_dir(fd: int, subdirs: list[str], others: list[str]) -> None:
        if not files:
            return
        for name in others:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                os.chmod(name, (stat.S_IMODE(st.st_mode) | 0o444) & ~0o222, dir_fd=fd)

    fd = os.open(path, _DIR_FLAGS)
    try:
        walk(fd, on_dir=on_dir, after=_read_only_dir)
        os.fchmod(fd, 0o555)
    finally:
        os.close(fd)


def _read_only_dir(fd: int, name: str) -> None:
    os.chmod(name, 0o555, dir_fd=fd)


def make_writable(path: Path) -> None:
    """Every directory 0755 again, so that the tree can be changed or removed."""
    os.chmod(path, 0o755)
    fd = os.open(path, _DIR_FLAGS)
    try:
        walk(fd, before=_writable_dir)
    finally:
        os.close(fd)


def _writable_dir(fd: int, name: str) -> None:
    os.chmod(name, 0o755, dir_fd=fd)


def overlay(source: Path, dest: Path) -> None:
    """Copy the tree ``source`` onto the directory ``dest``: what is already at a path
    is replaced (a directory merges with a directory); files are hard links where the
    file system allows; links are copied as links."""
    src_fd = os.open(source, _DIR_FLAGS)
    try:
        dst_fd = os.open(dest, _DIR_FLAGS)
    except BaseException:
        os.close(src_fd)
        raise
    # Per level: unvisited subdirectories, and each side's (device, inode) to go back to.
    levels: list[tuple[list[str], tuple[int, int], tuple[int, int]]] = []
    try:
        levels.append((_overlay_dir(src_fd, dst_fd), _id(src_fd), _id(dst_fd)))
        while levels:
            pending = levels[-1][0]
            if not pending:
                levels.pop()
                if levels:
                    src_fd = _checked_up(src_fd, levels[-1][1])
                    dst_fd = _checked_up(dst_fd, levels[-1][2])
                continue
            name = pending.pop()
            src_child = os.open(name, _DIR_FLAGS, dir_fd=src_fd)
            try:
                dst_child = os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
            except BaseException:
                os.close(src_child)
                raise
            os.close(src_fd)
            src_fd = src_child
            os.close(dst_fd)
            dst_fd = dst_child
            levels.append((_overlay_dir(src_fd, dst_fd), _id(src_fd), _id(dst_fd)))
    finally:
        os.close(src_fd)
        os.close(dst_fd)


def _overlay_dir(src_fd: int, dst_fd: int) -> list[str]:
    """Copy one directory's entries; the subdirectories to descend into (each made)."""
    subdirs: list[str] = []
    with os.scandir(src_fd) as entries:
        listing = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for name, is_dir in listing:
        try:
            existing: os.stat_result | None = os.stat(name, dir_fd=dst_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if is_dir:
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                os.unlink(name, dir_fd=dst_fd)
                existing = None
            if existing is None:
                os.mkdir(name, 0o755, dir_fd=dst_fd)
            subdirs.append(name)
            continue
        if existing is not None:
            remove_at(dst_fd, name)
        st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
            continue
        try:
            os.link(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
        except OSError:
            _copy_file(src_fd, dst_fd, name, stat.S_IMODE(st.st_mode))
    return subdirs


def _copy_file(src_fd: int, dst_fd: int, name: str, mode: int) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        dst = os.open(name, flags, 0o600, dir_fd=dst_fd)
        try:
            while chunk := os.read(src, _COPY_CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst, view) :]
            os.fchmod(dst, mode)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def remove_quietly(path: Path) -> None:
    """``remove_tree``, for clean-up that must go on whatever it meets (a sandbox's
    directories, which a function may have filled with trees as deep as it liked)."""
    try:
        remove_tree(path)
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc)
