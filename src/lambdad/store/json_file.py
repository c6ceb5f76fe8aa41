"""A small JSON file of the data directory that the operator's CLI writes and a running
server reads (``roles.json``, ``upstream.json``): written whole (aside, synced, then
renamed over it, mode 0600), changed read-change-write under an exclusive lock so that
two writers at once lose neither change, and watched for changes by its stamp (inode,
mtime, size: a rename always brings a new inode) at most once every so often.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
Stamp = tuple[int, int, int] | None


def write(path: Path, doc: object) -> None:
    """Replace ``path`` with ``doc`` whole: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename: never an empty file after a crash
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _sync_dir(path.parent)  # the rename itself on disk


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the file's lock (a ``.NAME.lock`` beside it: the file itself is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update(
    path: Path,
    load: Callable[[Path], T],
    save: Callable[[Path, T], None],
    change: Callable[[T], R],
) -> R:
    """Read, change (in place) and save the file under its lock; what ``change``
    answers. An exception from ``change`` leaves the file as it was."""
    with locked(path):
        value = load(path)
        out = change(value)
        save(path, value)
        return out


def stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


_UNSEEN = (-1, -1, -1)


class Watch:
    """Whether a file changed since it was last read: ``changed()`` is true the first
    time and after each change, and stats the file at most once every ``every``
    seconds of ``clock`` (0: at every call)."""

    def __init__(
        self, path: Path, every: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.every = every
        self.clock = clock
        self._seen: Stamp = _UNSEEN
        self._looked = float("-inf")

    def changed(self) -> bool:
        if self.every > 0:
            now = self.clock()
            if now - self._looked < self.every:
                return False
            self._looked = now
        current = stamp(self.path)
        if current == self._seen:
            return False
        self._seen = current
        return True
