"""Which entries of a container image's layers lambdad unpacks: the checks run over
every layer's tar headers before ``umoci`` unpacks anything.

A tenant writes these archives, so each entry is checked as hostile:
- its name stays inside the root: no absolute name, no ``..`` component;
- a hard link points inside the root the same way (its target is a path in the image);
- a relative symbolic link does not climb above the root from where it lies (an
  absolute one is allowed: AWS's own base images are full of them, and they are
  resolved only inside the sandbox, whose root is the image; lambdad never follows a
  link in an unpacked root, and umoci resolves every path it writes inside the root);
- no device node (a function must not get a door to the host's devices; FIFOs are
  harmless and allowed);
- the uncompressed size of all layers together stays within the limit (10 GB, as AWS).
Whiteouts (``.wh.NAME``, ``.wh..wh..opq``) are left to umoci, which applies them.

``check_entries`` is pure (entries in, a ``LayerRefused`` out); ``scan_layer`` reads a
layer blob's headers with ``tarfile`` (gzip or plain; anything else is refused).
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_UNCOMPRESSED = 10 * 1024**3
# Entries of one layer at most (each is a file, directory or link to create).
MAX_ENTRIES = 1_000_000
REGULAR, LINK, SYMLINK, DIRECTORY, DEVICE, FIFO, OTHER = (
    "file",
    "link",
    "symlink",
    "dir",
    "device",
    "fifo",
    "other",
)
LAYER_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    }
)


class LayerRefused(Exception):
    """A layer lambdad will not unpack, and why."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: str  # REGULAR, LINK, SYMLINK, DIRECTORY, DEVICE, FIFO, OTHER
    size: int = 0
    linkname: str = ""


def check_entries(
    entries: Iterable[Entry],
    already: int = 0,
    limit: int = MAX_UNCOMPRESSED,
    max_entries: int = MAX_ENTRIES,
) -> int:
    """Check one layer's ``entries`` (``max_entries`` at most); the uncompressed size so
    far (``already``: the earlier layers'). Raises ``LayerRefused`` at the first entry
    refused."""
    total = already
    for count, entry in enumerate(entries, 1):
        if count > max_entries:
            raise LayerRefused(f"the layer has more than {max_entries} entries")
        name = _inside(entry.name, "entry")
        if entry.kind == DEVICE:
            raise LayerRefused(f"device node {entry.name!r}")
        if entry.kind == OTHER:
            raise LayerRefused(f"entry {entry.name!r} of an unsupported type")
        if entry.kind == LINK:
            _inside(entry.linkname, "hard link target")
        if entry.kind == SYMLINK and not entry.linkname.startswith("/"):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), entry.linkname))
            if target == ".." or target.startswith("../"):
                raise LayerRefused(f"symbolic link {entry.name!r} points outside the root")
        total += max(entry.size, 0)
        if total > limit:
            raise LayerRefused(f"the image is larger than {limit} bytes uncompressed")
    return total


def _inside(name: str, what: str) -> str:
    """``name`` as a relative path in the root ("./a/b" -> "a/b")."""
    if name.startswith("/"):
        raise LayerRefused(f"{what} {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerRefused(f"{what} {name!r} leaves the root")
    return "/".join(parts) or "."


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return REGULAR
    if member.islnk():
        return LINK
    if member.issym():
        return SYMLINK
    if member.isdir():
        return DIRECTORY
    if member.ischr() or member.isblk():
        return DEVICE
    if member.isfifo():
        return FIFO
    return OTHER


def entries_of(path: Path) -> Iterator[Entry]:
    """The entries of a layer blob (tar, or gzip-compressed tar), streamed."""
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                yield Entry(member.name, _kind(member), member.size, member.linkname)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise LayerRefused(f"the layer is not a readable tar archive ({exc})") from None


def scan_layer(path: Path, media_type: str, already: int, limit: int = MAX_UNCOMPRESSED) -> int:
    """Check the layer blob at ``path``; the uncompressed size so far."""
    if media_type not in LAYER_MEDIA_TYPES:
        raise LayerRefused(f"layer media type {media_type!r}")
    return check_entries(entries_of(path), already, limit)
