"""Code and layer zip archives: the checks at upload and the safe extraction.

``inspect_archive`` decides whether an upload is acceptable: it checks the central
directory (names, depth, sizes, links, layout), then streams every member through
its decompressor once, with the declared size as a cap, so that an archive whose
headers lie about sizes or checksums is refused at upload instead of failing every
invoke. ``extract_archive`` writes an archive into a directory and never outside
it: it re-runs every check itself, counts the bytes it writes instead of trusting
the headers, never follows a link while writing, and publishes the tree with one
rename so nobody sees half an extraction.

The parts: ``archive_members`` reads and checks each entry, ``archive_tree`` places
them in a tree and checks its shape (clashes, links), ``archive_writer`` writes it.
Every check costs time linear in the archive.

Every rejection is an ``InvalidParameterValueException`` (a 400), never a 500.
The zipped-size limit (``RequestTooLargeException``) is decided by the caller.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lambdad.errors import InvalidParameterValueException
from lambdad.store import trees
from lambdad.store.archive_members import (
    MAX_DEPTH,
    MAX_ENTRIES,
    UNZIP_FAILED,
    check_contents,
    open_zip,
    read_member,
)
from lambdad.store.archive_tree import DEFAULT_DIR_MODE, Member, Tree, build_tree, check_layout
from lambdad.store.archive_writer import write_tree

__all__ = [
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "UNZIP_FAILED",
    "ArchiveSummary",
    "extract_archive",
    "inspect_archive",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ArchiveSummary:
    sha256_hex: str
    code_sha256: str  # base64 of the raw SHA-256 digest of the zip bytes (AWS's CodeSha256)
    size: int  # zipped bytes (AWS's CodeSize)
    unzipped_size: int
    entries: int


@dataclass(frozen=True, slots=True)
class _Plan:
    tree: Tree
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
    with open_zip(io.BytesIO(data)) as zf:
        plan = _plan(zf, max_unzipped=max_unzipped, max_entries=max_entries, max_ratio=max_ratio)
        check_contents(zf)
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
    with source, open_zip(source) as zf:
        # Never trust that inspect_archive ran on these bytes: check everything again.
        plan = _plan(zf, max_unzipped=max_unzipped)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        try:
            write_tree(zf, plan.tree, tmp, max_unzipped=max_unzipped)
            os.chmod(tmp, DEFAULT_DIR_MODE)  # mkdtemp makes it 0700
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
    members: list[Member] = []
    for info in infos:
        member = read_member(zf, info, max_ratio=max_ratio)
        if member is not None:
            members.append(member)
    tree = build_tree(members, max_dirs=max_entries)
    check_layout(tree)
    return _Plan(tree, unzipped, len(infos))
