"""Layer directories: a function's layers extracted, in order, into one /opt tree.

Each distinct ordered list of layers gets one directory, named by a digest of the
layers' archive digests, built once and shared read-only by every environment
that uses the same list. Each layer archive is extracted once by the code cache;
the /opt tree is then assembled from those extractions in the function's order,
later layers overwriting what earlier ones put at the same path (as on AWS), with
hard links where the file system allows them. The tree appears atomically (built
aside, then renamed), so a concurrent reader never sees half of it. Every walk
over these trees is iterative (``store.trees``): a layer decides how deep they go.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lambdad.environments.code import CodeCache, remove_quietly, storage_failure
from lambdad.store import trees

log = logging.getLogger(__name__)


def opt_name(layer_sha256_hex: Sequence[str]) -> str:
    """The directory name of one ordered list of layers."""
    return hashlib.sha256("\n".join(layer_sha256_hex).encode()).hexdigest()


class OptCache:
    def __init__(self, root: Path, code: CodeCache) -> None:
        self.root = root
        self.code = code
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, layer_sha256_hex: Sequence[str]) -> Path:
        return self.root / opt_name(layer_sha256_hex)

    async def ensure(self, layer_sha256_hex: Sequence[str]) -> Path | None:
        """The /opt tree of these layers (None when there are none), built on first use."""
        if not layer_sha256_hex:
            return None
        target = self.path(layer_sha256_hex)
        if target.is_dir():
            return target
        name = target.name
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if not target.is_dir():
                sources = [await self.code.ensure(sha) for sha in layer_sha256_hex]
                try:
                    self.root.mkdir(parents=True, exist_ok=True)
                    await asyncio.to_thread(merge_layers, sources, target)
                    # What it was made of, for the start-up sweep.
                    self._layers_file(name).write_text("\n".join(layer_sha256_hex) + "\n")
                except OSError as exc:
                    raise storage_failure(f"assembling /opt {name}", exc) from None
                log.info("assembled /opt from %d layers in %s", len(sources), target)
        self._locks.pop(name, None)
        return target

    def _layers_file(self, name: str) -> Path:
        return self.root / f"{name}.layers"

    def sweep(self) -> int:
        """At start-up, before any environment runs: remove the assembled /opt trees
        made of a layer whose archive is gone (and any a crash left half built or
        unlabelled; they are built again on first use); the number removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in list(self.root.iterdir()):
            try:
                if entry.suffix == ".layers":
                    if not (self.root / entry.stem).is_dir():
                        entry.unlink(missing_ok=True)
                    continue
                listed = self._layers_file(entry.name)
                digests = listed.read_text().split() if listed.is_file() else []
                if digests and all(self.code.blobs.exists(d) for d in digests):
                    continue
                trees.remove_tree(entry)
                listed.unlink(missing_ok=True)
                removed += 1
            except Exception as exc:  # one bad tree must not stop start-up
                log.warning("could not remove the /opt tree %s: %r", entry, exc)
        return removed


def merge_layers(sources: Sequence[Path], target: Path) -> None:
    """Copy ``sources`` in order into a new read-only tree at ``target``."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for source in sources:
            trees.overlay(source, tmp)
        # Files are links to the code cache's, read-only already; directories become so.
        trees.make_read_only(tmp, files=False)
        try:
            os.rename(tmp, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not target.is_dir():
                raise
            remove_quietly(tmp)  # built concurrently elsewhere: keep theirs
    except BaseException:
        if tmp.exists():
            remove_quietly(tmp)
        raise


def extension_names(opt_dir: Path | None) -> tuple[str, ...]:
    """The external extensions in a function's layers: the executable files in
    ``/opt/extensions``, by name (what each registers as)."""
    if opt_dir is None:
        return ()
    folder = opt_dir / "extensions"
    try:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return ()
    return tuple(p.name for p in entries if p.is_file() and os.access(p, os.X_OK))
