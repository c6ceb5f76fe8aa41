"""Code directories: each archive extracted once, shared read-only by every
environment of every version that uses it.

A tenant shapes these trees, so every walk over them is iterative and relative to
a directory descriptor (``store.trees``), and one tree that cannot be read or
removed is logged and skipped: it never stops the server from starting. A failure
to extract answers as AWS does: ``InvalidZipFileException`` for an archive that
cannot be unzipped, ``ServiceException`` when the server's own storage fails.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

from lambdad.errors import InvalidParameterValueException, InvalidZipFileException, ServiceException
from lambdad.sandbox.base import SandboxSpec
from lambdad.store import archives, trees
from lambdad.store.blobs import BlobStore

log = logging.getLogger(__name__)

UNZIP_FAILED = "Lambda could not unzip the deployment package."
# Errors that say the disk is full, not that anything is wrong with the archive.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


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
                await asyncio.to_thread(self._extract, sha256_hex, target)
        self._locks.pop(sha256_hex, None)
        return target

    def _extract(self, sha256_hex: str, target: Path) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            archives.extract_archive(
                self.blobs.path(sha256_hex), target, max_unzipped=self.max_unzipped
            )
        except InvalidParameterValueException as exc:
            # Accepted by an older, laxer lambdad, or damaged since: as AWS answers it.
            log.warning("archive %s cannot be extracted: %s", sha256_hex, exc.message)
            raise InvalidZipFileException(UNZIP_FAILED) from None
        except OSError as exc:
            raise storage_failure(f"extracting archive {sha256_hex}", exc) from None
        try:
            # Read-only for everyone: the runtime runs unprivileged in real sandboxes.
            trees.make_read_only(target)
        except OSError as exc:
            remove_quietly(target)
            raise storage_failure(f"extracting archive {sha256_hex}", exc) from None

    def sweep(self) -> int:
        """At start-up, before any environment runs: remove the code directories whose
        archive is gone (its last function version or layer version was deleted); the
        number removed. A directory that cannot be removed is logged and left."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            try:
                if entry.name.startswith("."):
                    trees.remove_tree(entry)  # an extraction a crash cut short
                elif entry.is_dir() and not self.blobs.exists(entry.name):
                    trees.remove_tree(entry)
                    removed += 1
            except Exception as exc:  # one bad tree must not stop start-up
                log.warning("could not remove the code directory %s: %r", entry, exc)
        if removed:
            log.info("removed %d code directories whose archive is gone", removed)
        return removed


def storage_failure(what: str, exc: OSError) -> ServiceException:
    """The answer when lambdad's own disk fails it: logged once, in one line."""
    if exc.errno in _NO_SPACE:
        log.error("%s failed: the data directory's file system is full (%s)", what, exc)
        return ServiceException(
            "Lambda could not prepare the function's code: the server is out of storage "
            "space. Try again later."
        )
    log.error("%s failed: %s", what, exc)
    return ServiceException("Lambda could not prepare the function's code. Try again later.")


def remove_quietly(path: Path) -> None:
    """Remove a tree, logging (not raising) what cannot be removed."""
    try:
        trees.remove_tree(path)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def entrypoint_problem(spec: SandboxSpec) -> str | None:
    """Why a custom runtime's ``bootstrap`` cannot start, in AWS's words (else None).
    (Behind the extensions' launcher, the runtime's command comes after its own.)
    A container image without ENTRYPOINT or CMD (nor an ImageConfig naming them) has
    nothing to run; anything else of an image's is left to its exec, inside the sandbox
    (the host never resolves a path of a tenant's root)."""
    if spec.root_dir is not None:
        return None if spec.argv else "No command specified: the image has no ENTRYPOINT or CMD"
    entry = next((a for a in spec.argv if a.startswith("{task}/")), "")
    if not entry:
        return None
    relative = entry.removeprefix("{task}/")
    shown = f"/var/task/{relative}"
    path = spec.task_dir / relative
    if not path.is_file():
        return f"Couldn't find valid bootstrap(s): [{shown} /opt/bootstrap]"
    if not os.access(path, os.X_OK):
        return f"fork/exec {shown}: permission denied"
    return None
