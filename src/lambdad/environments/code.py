"""Code directories: each archive extracted once, shared read-only by every
environment of every version that uses it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lambdad.control import archives
from lambdad.store.blobs import BlobStore


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
