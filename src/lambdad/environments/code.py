"""Code directories: each archive extracted once, shared read-only by every
environment of every version that uses it."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
from pathlib import Path

from lambdad.control import archives
from lambdad.store.blobs import BlobStore

log = logging.getLogger(__name__)


class CodeCache:
    def __init__(self, root: Path, blobs: BlobStore, max_unzipped: int) -> None:
        self.root = root
        self.blobs = blobs
        self.max_unzipped = max_unzipped
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, sha256_hex: str) -> Path:
        return self.root / sha256_hex

    async def ensure(self, sha256_hex: str) -> Path:
        target = self.path(sha256_hex)
        if target.is_dir():
            return target
        lock = self._locks.setdefault(sha256_hex, asyncio.Lock())
        async with lock:
            if not target.is_dir():
                self.root.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(self._extract, sha256_hex, target)
        self._locks.pop(sha256_hex, None)
        return target

    def _extract(self, sha256_hex: str, target: Path) -> None:
        archives.extract_archive(
            self.blobs.path(sha256_hex), target, max_unzipped=self.max_unzipped
        )
        # Read-only for everyone: the runtime runs unprivileged in real sandboxes.
        for dirpath, dirnames, filenames in os.walk(target):
            for name in filenames:
                p = os.path.join(dirpath, name)
                if not os.path.islink(p):
                    mode = os.stat(p).st_mode
                    os.chmod(p, (mode | 0o444) & ~0o222)
            for name in dirnames:
                p = os.path.join(dirpath, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o555)
        os.chmod(target, 0o555)

    def sweep(self) -> int:
        """At start-up, before any environment runs: remove the code directories whose
        archive is gone (its last function version or layer version was deleted); the
        number removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if entry.name.startswith("."):
                remove_tree(entry)  # an extraction a crash cut short
            elif entry.is_dir() and not self.blobs.exists(entry.name):
                remove_tree(entry)
                removed += 1
        if removed:
            log.info("removed %d code directories whose archive is gone", removed)
        return removed


def remove_tree(path: Path) -> None:
    """Remove a tree this cache made read-only (directories 0555)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    os.chmod(path, stat.S_IRWXU)
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            sub = os.path.join(dirpath, name)
            if not os.path.islink(sub):
                os.chmod(sub, stat.S_IRWXU)
    shutil.rmtree(path)
