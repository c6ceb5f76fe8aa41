"""Content-addressed blob store for code and layer archives.

A blob is named by the hex SHA-256 of its bytes and written once, atomically
(temporary file, fsync, rename), so a reader never sees a partial archive and the
same zip uploaded twice is stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256_hex: str) -> Path:
        return self.root / sha256_hex[:2] / f"{sha256_hex}.zip"

    def put(self, data: bytes, sha256_hex: str | None = None) -> str:
        digest = sha256_hex or hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256_hex: str) -> bytes:
        return self.path(sha256_hex).read_bytes()

    def exists(self, sha256_hex: str) -> bool:
        return self.path(sha256_hex).exists()

    def delete(self, sha256_hex: str) -> None:
        self.path(sha256_hex).unlink(missing_ok=True)
