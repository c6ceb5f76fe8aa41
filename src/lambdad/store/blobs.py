"""Content-addressed blob store for code and layer archives.

A blob is named by the hex SHA-256 of its bytes and written once, atomically
(temporary file, fsync, rename), so a reader never sees a partial archive and the
same zip uploaded twice is stored once.

Function versions and layer versions share blobs, so a blob is deleted only when the
last of them goes (``release``): a function keeps running a layer version deleted
after it took it, as on AWS. The reference count and the unlink happen in one store
transaction; a writer puts its blob again (a look-up unless it is gone) in the
transaction that records its reference, so a release between the first write and
the reference cannot leave the reference without its blob (``LayerService.publish``).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lambdad.errors import ServiceException
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)


def archives_of(*versions: Doc) -> set[str]:
    """The blobs function versions run: their code and their layers."""
    out: set[str] = set()
    for doc in versions:
        if doc.get("CodeSha256Hex"):
            out.add(doc["CodeSha256Hex"])
        out.update(doc.get("_layers", ()))
    return out


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
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError as exc:
            raise write_failed(target, exc) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise write_failed(target, exc) from None
            raise
        return digest

    def get(self, sha256_hex: str) -> bytes:
        return self.path(sha256_hex).read_bytes()

    def exists(self, sha256_hex: str) -> bool:
        return self.path(sha256_hex).exists()

    def delete(self, sha256_hex: str) -> None:
        self.path(sha256_hex).unlink(missing_ok=True)

    def release(self, store: MetadataStore, digests: Iterable[str]) -> list[str]:
        """Delete each of ``digests`` that no function version or layer version uses
        any longer; the ones deleted. Call it after removing a reference."""
        gone = []
        with store.transaction():
            for digest in sorted(set(digests)):
                if store.archive_references(digest) == 0 and self.exists(digest):
                    self.delete(digest)
                    gone.append(digest)
        for digest in gone:
            log.info("deleted blob %s: nothing uses it any longer", digest)
        return gone


def write_failed(path: Path, exc: OSError) -> ServiceException:
    """The answer to a write lambdad's own storage refused, logged once (no traceback)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        log.error("cannot write %s: the data directory's file system is full (%s)", path, exc)
        return ServiceException(
            "Lambda could not store the code: the server is out of storage space. Try again later."
        )
    log.error("cannot write %s: %s", path, exc)
    return ServiceException("Lambda could not store the code. Try again later.")
