"""A disk-backed ``/tmp``, decided: names, sizes, commands, recovery. No I/O.

On AWS an environment's ``/tmp`` is ephemeral storage on disk, apart from its memory: a
128 MB function may download a 300 MB object there, and writing past its
``EphemeralStorage`` fails with ``ENOSPC``. A tmpfs cannot give that (its pages are
charged to the environment's memory cgroup and cannot be reclaimed: an OOM kill), so
each sandboxed environment gets a file system of its own instead: an ext4 image under
the data directory, loop-mounted there (``nodev,nosuid``; the loop device is freed when
the last mount of it goes), its root ``1777`` and empty. The sandbox
shows that mount's root at ``/tmp`` (``sandbox/tmpdisk.py`` makes and removes them).

Where that cannot be done (no loop devices, not root, no ``mkfs.ext4``: a container
host) or the operator says ``LAMBDAD_TMP_STORAGE=memory``, ``/tmp`` stays a tmpfs.
"""

from __future__ import annotations

import math
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DISK = "disk"
MEMORY = "memory"
STORAGE_MODES = (DISK, MEMORY)
# Where a server keeps its environments' disks, under its data directory.
DISKS_DIR = "tmp-disks"
IMAGE_SUFFIX = ".img"
# ext4 spends 256 bytes of inode table per 16 KiB (1/64 of the image) plus a few blocks
# of bitmaps and descriptors: the image is that much larger than the ephemeral storage,
# so that the file system's size (``df``, ``statvfs``) is what the function configured.
BLOCK = 4096
SLACK_BLOCKS = 64
# Everything said here: mkfs.ext4 runs with no configuration file (``MKE2FS_CONFIG``
# /dev/null, not the host's /etc/mke2fs.conf), ``-F`` past its warning that none
# defines ext4. On an error the file system goes on (``-e continue``): never a read-only
# remount or a panic of the host for a tenant's disk.
MKFS_OPTIONS = (
    "-q",
    "-F",
    "-b",
    str(BLOCK),
    "-i",
    "16384",
    "-I",
    "256",
    "-m",
    "0",
    "-e",
    "continue",
    # ext4's features, but no journal (the data dies with the environment) and no room
    # to grow; inode tables written lazily and nothing discarded: a 10 GB image is
    # formatted in milliseconds.
    "-O",
    "^has_journal,^resize_inode,sparse_super,large_file,filetype,dir_index,ext_attr,"
    "extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize",
    "-E",
    "lazy_itable_init=1,nodiscard,root_owner=0:0",
)
# The names a server gives its disks and templates (``disk_paths``, ``template_paths``):
# the only entries of its disks directory it ever unmounts or deletes (the zygotes'
# ``_TMP_DISK`` in runtimes/python/lang_root.py and zygote.py match the disks' names).
NAME = re.compile(r"(?:[0-9]+m-[0-9a-f]{8}-[0-9]{8}|template-[0-9]+m-[0-9a-f]{8})")
HEADROOM = 256 << 20
SPARE_MAX_MB = 2048
# Ready disks kept beyond ``spares`` of the default size, all other sizes together.
SPARE_EXTRA = 2


@dataclass(frozen=True, slots=True)
class DiskPaths:
    """One disk's image file and the directory it is mounted on (both under the root)."""

    name: str
    image: Path
    mount_point: Path


@dataclass(frozen=True, slots=True)
class StorageChoice:
    mode: str  # DISK or MEMORY
    warning: str = ""  # why /tmp is in memory although disk was asked for


def disk_paths(root: Path, run: str, serial: int, size_mb: int) -> DiskPaths:
    """The paths of the ``serial``-th disk a server's ``run`` (8 hex digits of its own)
    makes: names of its own choosing, never a tenant's, and never one an earlier run of
    the server left."""
    name = f"{size_mb}m-{run}-{serial:08d}"
    return DiskPaths(name, root / f"{name}{IMAGE_SUFFIX}", root / name)


def template_paths(root: Path, run: str, size_mb: int) -> DiskPaths:
    """The template image of a run's ``size_mb`` MB disks (and where it is mounted for a
    moment, to make its root ``1777`` and empty)."""
    name = f"template-{size_mb}m-{run}"
    return DiskPaths(name, root / f"{name}{IMAGE_SUFFIX}", root / name)


def image_bytes(size_mb: int) -> int:
    """How large the image of a ``size_mb`` MB ``/tmp`` is (see SLACK_BLOCKS)."""
    blocks = size_mb * (1 << 20) // BLOCK
    return (math.ceil(blocks * 64 / 63) + blocks // 8192 + SLACK_BLOCKS) * BLOCK


def has_room(size_mb: int, free_bytes: int, promised_bytes: int = 0) -> bool:
    """Whether one more disk of ``size_mb`` MB fits on the host's file system under the
    data directory: ``free_bytes`` there, of which ``promised_bytes`` the disks already
    made may still take (images are sparse: an idle disk costs a few hundred KB until
    written), with ``HEADROOM`` left for lambdad's own data. So that disks, filled all
    at once, never fill the host's disk: a function filling its /tmp meets ENOSPC there,
    never an I/O error nor a full disk for the rest."""
    return room_short(size_mb, free_bytes, promised_bytes) == 0


def unwritten_bytes(size_mb: int, allocated_bytes: int) -> int:
    """What a disk of ``size_mb`` MB whose image holds ``allocated_bytes`` may still take."""
    return max(0, image_bytes(size_mb) - allocated_bytes)


def mkfs_argv(mkfs: str, image: Path) -> list[str]:
    return [mkfs, *MKFS_OPTIONS, str(image)]


def choose_storage(
    setting: str, *, root: bool, loop_control: bool, mkfs: str | None
) -> StorageChoice:
    """Where environments' ``/tmp`` lives: on disk when asked (the default) and possible,
    else in memory, with the reason when disk was asked for."""
    if setting not in STORAGE_MODES:
        raise ValueError(f"tmp storage must be one of {', '.join(STORAGE_MODES)}: {setting!r}")
    if setting == MEMORY:
        return StorageChoice(MEMORY)
    missing = [
        what
        for what, present in (
            ("not root", root),
            ("no /dev/loop-control", loop_control),
            ("no mkfs.ext4 (apt-get install e2fsprogs)", mkfs is not None),
        )
        if not present
    ]
    if not missing:
        return StorageChoice(DISK)
    return StorageChoice(
        MEMORY,
        "/tmp is a tmpfs charged to each function's memory ("
        + ", ".join(missing)
        + "): a function writing more to /tmp than its memory allows is OOM-killed",
    )


def unescape(field: str) -> str:
    """A path as /proc/self/mountinfo writes it (space, tab, newline and backslash as
    octal escapes), back as it is."""
    out, i = [], 0
    while i < len(field):
        digits = field[i + 1 : i + 4]
        if field[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def is_ours(entry: str) -> bool:
    """Whether ``entry`` (a name in a disks directory) is a disk's or template's mount
    point or image, as a lambdad server names them."""
    if entry.endswith(IMAGE_SUFFIX):
        entry = entry[: -len(IMAGE_SUFFIX)]
    return NAME.fullmatch(entry) is not None


def safe_root(mode: int, uid: int, euid: int) -> bool:
    """Whether a disks directory (its ``lstat``) may be used and emptied: a directory,
    not a link, the server's own, that no group or other may write to."""
    return stat.S_ISDIR(mode) and uid == euid and mode & 0o022 == 0


def stale_mount_points(mountinfo: str, root: Path) -> list[str]:
    """Disks' mount points in ``root`` (a server's disks directory, by the names it
    gives them) in ``mountinfo``, latest first: what a server that died left mounted.
    Nothing else, in ``root`` or outside it."""
    prefix = str(root).rstrip("/") + "/"
    found: list[str] = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = unescape(fields[4])
        name = point[len(prefix) :]
        if point.startswith(prefix) and "/" not in name and is_ours(name):
            found.append(point)
    found.reverse()
    return found


def sizes_to_make(ready: Mapping[int, int], wanted: Mapping[int, int]) -> list[int]:
    """The disks to make so that ``ready`` (size -> disks ready) reaches ``wanted``
    (size -> spares to keep), most wanted size first."""
    out: list[int] = []
    for size, count in sorted(wanted.items(), key=lambda kv: (-kv[1], kv[0])):
        out += [size] * max(0, count - ready.get(size, 0))
    return out


def spares_wanted(default_mb: int, spares: int, recent: Iterable[int]) -> dict[int, int]:
    """How many ready disks to keep per size: ``spares`` of the default size, and one of
    each other size up to ``SPARE_MAX_MB`` an environment asked for latest (``recent``:
    the latest last; at most ``spares`` and ``SPARE_EXTRA`` such sizes). A larger one is
    made when asked for (a few ms): kept ready, it would hold much of what the host's disk
    can promise (``has_room``) for nothing."""
    wanted = {default_mb: spares} if spares > 0 else {}
    if spares <= 0:
        return wanted
    for size in reversed(list(recent)):
        if len(wanted) > min(spares, SPARE_EXTRA):
            break
        if size not in wanted and size <= SPARE_MAX_MB:
            wanted[size] = 1
    return wanted


def spares_to_drop(ready: Mapping[int, int], wanted: Mapping[int, int]) -> list[int]:
    """The sizes of ready disks to remove: those beyond what is ``wanted`` of each size
    (sizes no environment asked for lately), then, largest first, those beyond
    ``spares + SPARE_EXTRA`` in all (``spares``: what is wanted of the most wanted)."""
    drop: list[int] = []
    kept: dict[int, int] = {}
    for size, count in ready.items():
        kept[size] = min(count, wanted.get(size, 0))
        drop += [size] * (count - kept[size])
    over = sum(kept.values()) - (max(wanted.values(), default=0) + SPARE_EXTRA)
    for size in sorted(kept, reverse=True):
        if over <= 0:
            break
        n = min(over, kept[size])
        drop += [size] * n
        over -= n
    return drop


def spares_to_evict(ready: Iterable[int], deficit_bytes: int) -> list[int]:
    """The sizes of ready disks to remove, largest first, so that a disk short of
    ``deficit_bytes`` of room (``has_room``) fits; none if all of them would not do."""
    out: list[int] = []
    for size in sorted(ready, reverse=True):
        if deficit_bytes <= 0:
            break
        out.append(size)
        deficit_bytes -= image_bytes(size)
    return out if deficit_bytes <= 0 else []


def room_short(size_mb: int, free_bytes: int, promised_bytes: int) -> int:
    """How many bytes a disk of ``size_mb`` MB lacks to fit (``has_room``): 0 if it fits."""
    return max(0, image_bytes(size_mb) + HEADROOM - (free_bytes - promised_bytes))
