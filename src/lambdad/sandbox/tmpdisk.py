"""Environments' disk-backed ``/tmp``: made, handed out, removed (``tmpdisk_plan.py``
decides names, sizes and commands).

A disk is a fresh copy of a template image of its size (``mkfs.ext4`` once per size
per run, its root made ``1777`` and empty), loop-mounted under the disks directory:
about 1.5 ms (``loopdev.py``: no program run). A worker thread keeps a few ready
(``spares`` of the default size, one of each of two other sizes asked for latest; those
no longer wanted are removed), and ``acquire`` takes one of those, or makes one in a
thread when none is ready (removing ready spares if the host's disk has room for it
only then).
``release`` shuts the file system down (what still holds a descriptor on it can write
no more), empties the image, unmounts (detached: a sandbox's mount namespace that still
holds it lets go when its last process exits, and the loop device is freed then) and
deletes the image.
``setup`` first removes what a server that died left under its disks directory, and
nothing elsewhere.

A sandbox shows a disk's root at ``/tmp``: bwrap binds its mount point (it starts in
the host's mount namespace, where it is mounted); a zygote's keeper, whose namespace
is older than the disk, moves a detached copy of the mount onto its ``/tmp``
(``mount_fd``: ``open_tree``, then ``move_mount`` inside). Either way the sandbox's
mount table names ``/dev/loopN`` and ``/`` as the mount's root: no host path. The
image and the disks directory (``0700``, root's) are never inside a sandbox. A zygote
or a parked spare unmounts its copies of the disks mounted when it was made
(``runtimes/python/lang_root.py``, ``rootfs.DETACH_TMP_DISKS``), so that none outlives
its environment there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import itertools
import logging
import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path

from lambdad.sandbox import loopdev
from lambdad.sandbox import tmpdisk_plan as plan

log = logging.getLogger(__name__)

# mkfs.ext4 reads no configuration of the host's (tmpdisk_plan.MKFS_OPTIONS say it all).
TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "MKE2FS_CONFIG": "/dev/null"}
# The sizes environments asked for lately (each keeps a ready disk of its size).
RECENT_SIZES = 8


class TmpDisk:
    """One mounted disk, of ``size_mb`` MB of ephemeral storage."""

    def __init__(self, paths: plan.DiskPaths, size_mb: int) -> None:
        self.paths = paths
        self.size_mb = size_mb

    @property
    def mount_point(self) -> Path:
        return self.paths.mount_point

    def mount_fd(self) -> int:
        """A descriptor of a detached copy of its mount (close-on-exec), which a process
        privileged in its own mount namespace moves onto its ``/tmp``."""
        return loopdev.open_tree_clone(str(self.mount_point))

    def __repr__(self) -> str:
        return f"TmpDisk({self.paths.name})"


class _Order:
    """A disk being made for an ``acquire`` (under the disks' lock)."""

    __slots__ = ("cancelled", "disk")

    def __init__(self) -> None:
        self.cancelled = False
        self.disk: TmpDisk | None = None


class TmpDisks:
    """The disks of one server (under ``root``: its data directory's disks directory)."""

    def __init__(
        self,
        root: Path,
        *,
        mkfs: str,
        spares: int = 2,
        default_mb: int = 512,
    ) -> None:
        # Never through a link: the directory itself is checked (``setup``).
        self.root = Path(os.path.realpath(Path(root).parent)) / Path(root).name
        self.mkfs = mkfs
        self._templates: dict[int, Path] = {}  # size -> its template image
        self._template_lock = threading.Lock()
        self.spares = spares
        self.default_mb = default_mb
        self._serials = itertools.count(1)
        self._run = secrets.token_hex(4)
        self._cond = threading.Condition()
        self._ready: dict[int, collections.deque[TmpDisk]] = {}
        self._recent: collections.deque[int] = collections.deque(maxlen=RECENT_SIZES)
        self._live: set[TmpDisk] = set()  # made and not yet removed
        self._closed = False
        self._worker: threading.Thread | None = None

    def setup(self) -> bool:
        """The disks directory, emptied of what an earlier run left; a first disk made
        (the proof that disks can be made here: False, with the one warning, if not);
        then the worker that keeps spares ready."""
        try:
            self._own_root()
        except OSError as exc:
            log.warning(
                "/tmp disks not used (%s): /tmp is a tmpfs charged to each function's "
                "memory; a function writing more to /tmp than its memory allows is "
                "OOM-killed",
                exc,
            )
            return False
        removed = self.recover()
        if removed:
            log.warning("removed %d /tmp disks left mounted by an earlier run", removed)
        try:
            first = self.make(self.default_mb)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning(
                "cannot make /tmp disks here (%s): /tmp is a tmpfs charged to each "
                "function's memory; a function writing more to /tmp than its memory "
                "allows is OOM-killed",
                exc,
            )
            return False
        if self.spares > 0:
            self._ready.setdefault(first.size_mb, collections.deque()).append(first)
        else:
            self.remove(first)
        self._worker = threading.Thread(target=self._work, name="tmp-disks", daemon=True)
        self._worker.start()
        return True

    def _own_root(self) -> None:
        """The disks directory made (``0700``), or checked: a directory of the server's
        own, no link, no group or other write (else OSError, and nothing touched)."""
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.root, 0o700)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if not plan.safe_root(st.st_mode, st.st_uid, os.geteuid()):
                raise OSError(
                    errno.EPERM,
                    f"{self.root} is not a directory of this user's that only it writes to",
                )
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)

    def recover(self) -> int:
        """Unmount and delete the disks and templates in the disks directory (a dead
        server's); nothing else there, and never through a link."""
        st = os.lstat(self.root)
        if not plan.safe_root(st.st_mode, st.st_uid, os.geteuid()):
            return 0
        stale = plan.stale_mount_points(_mountinfo(), self.root)
        for point in stale:
            _umount(point)
        still = set(plan.stale_mount_points(_mountinfo(), self.root))
        for entry in os.scandir(self.root):
            path = os.path.join(self.root, entry.name)
            if not plan.is_ours(entry.name):
                continue
            if path in still:
                log.error("cannot unmount %s: left in place", path)
            elif entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        return len(stale)

    async def acquire(self, size_mb: int) -> TmpDisk | None:
        """A fresh, empty disk of ``size_mb`` MB; None (``/tmp`` in memory then, logged)
        when one cannot be made."""
        with self._cond:
            if self._closed:
                return None
            if size_mb in self._recent:
                self._recent.remove(size_mb)
            self._recent.append(size_mb)
            ready = self._ready.get(size_mb)
            disk = ready.popleft() if ready else None
            self._cond.notify()
        if disk is not None:
            return disk
        order = _Order()
        making = asyncio.get_running_loop().run_in_executor(None, self._make_for, order, size_mb)
        try:
            await asyncio.shield(making)
        except asyncio.CancelledError:
            # Whoever comes second, this or the thread making it, removes the disk.
            with self._cond:
                order.cancelled = True
                made, order.disk = order.disk, None
            if made is not None:
                self.remove(made)  # rare; a few ms
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("cannot make a %d MB /tmp disk, /tmp in memory instead: %s", size_mb, exc)
            return None
        with self._cond:
            disk, order.disk = order.disk, None
        return disk

    def _make_for(self, order: _Order, size_mb: int) -> None:
        """A disk made for an ``acquire``, handed over in ``order``; removed at once if the
        acquire was cancelled meanwhile. Where the host's disk has no room for it, ready
        spares make room (largest first), if they can."""
        disk = self.make(size_mb, evict=True)
        with self._cond:
            if not order.cancelled:
                order.disk = disk
                return
        self.remove(disk)

    async def release(self, disk: TmpDisk) -> None:
        await asyncio.to_thread(self.remove, disk)

    def make(self, size_mb: int, *, evict: bool = False) -> TmpDisk:
        """A new disk, mounted, its root ``1777`` and empty (blocking). ``evict``: where
        the host's disk has no room for it, ready spares that would make room are removed
        (largest first), in the same step, so that no spare made meanwhile takes it."""
        with self._cond:
            # Checked and reserved at once: a disk being made (no image yet) is promised
            # its whole image, so that disks made together never overdraw the host's disk.
            free, promised = shutil.disk_usage(self.root).free, self._promised()
            short = plan.room_short(size_mb, free, promised)
            evicted = self._evicted(short) if short and evict else []
            if evicted:
                promised = self._promised()  # they are shut down before it is written
                short = plan.room_short(size_mb, free, promised)
            if short:
                raise OSError(
                    errno.ENOSPC,
                    f"{free >> 20} MB free under {self.root}, {promised >> 20} MB of it "
                    "promised to the disks already made",
                )
            paths = plan.disk_paths(self.root, self._run, next(self._serials), size_mb)
            disk = TmpDisk(paths, size_mb)
            self._live.add(disk)
        for spare in evicted:
            self.remove(spare)
        if evicted:
            log.info("removed %d ready /tmp disks to make a %d MB one", len(evicted), size_mb)
        try:
            template = self._template(size_mb)
            loopdev.copy_sparse(str(template), str(paths.image))
            os.mkdir(paths.mount_point, 0o700)
            loopdev.mount_image(str(paths.image), str(paths.mount_point))
        except BaseException:
            self.remove(disk)
            raise
        return disk

    def _evicted(self, short: int) -> list[TmpDisk]:
        """Ready spares taken off the ready and the made (the caller holds the lock and
        removes them), that free ``short`` bytes of the budget; none if they cannot."""
        ready = [d.size_mb for q in self._ready.values() for d in q]
        evicted = [self._ready[size].pop() for size in plan.spares_to_evict(ready, short)]
        self._live.difference_update(evicted)
        return evicted

    def _promised(self) -> int:
        """What the disks made or being made may still take of the host's disk, written
        full (the caller holds the lock). An image not there (yet, or any more) counts
        whole."""
        promised = 0
        for disk in self._live:
            try:
                allocated = os.stat(disk.paths.image).st_blocks * 512
            except OSError:
                allocated = 0
            promised += plan.unwritten_bytes(disk.size_mb, allocated)
        return promised

    def _template(self, size_mb: int) -> Path:
        """The image every disk of ``size_mb`` copies: formatted, its root ``1777`` and
        empty (made once per size)."""
        with self._template_lock:
            made = self._templates.get(size_mb)
            if made is not None:
                return made
            paths = plan.template_paths(self.root, self._run, size_mb)
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(paths.image, flags, 0o600)
                try:
                    os.ftruncate(fd, plan.image_bytes(size_mb))
                finally:
                    os.close(fd)
                _run(plan.mkfs_argv(self.mkfs, paths.image))
                os.mkdir(paths.mount_point, 0o700)
                loopdev.mount_image(str(paths.image), str(paths.mount_point))
                try:
                    os.chmod(paths.mount_point, 0o1777)
                    os.rmdir(paths.mount_point / "lost+found")
                finally:
                    _umount(str(paths.mount_point))
                os.rmdir(paths.mount_point)
            except BaseException:
                _umount(str(paths.mount_point))
                with contextlib.suppress(OSError):
                    os.rmdir(paths.mount_point)
                with contextlib.suppress(OSError):
                    os.unlink(paths.image)
                raise
            self._templates[size_mb] = paths.image
            return paths.image

    def remove(self, disk: TmpDisk) -> None:
        """Shut down, its image emptied, unmounted (detached) and deleted; idempotent.

        A process that outlives its environment (a SnapStart template, a sandbox's
        straggler) may hold a descriptor on the disk, which would keep its file system
        alive and writable, off the budget, after the detached unmount: shut down first,
        every write through such a descriptor fails (EIO), and the image's blocks are
        freed at once."""
        with contextlib.suppress(OSError):
            loopdev.shut_down(str(disk.mount_point))
        with contextlib.suppress(OSError):
            loopdev.empty_file(str(disk.paths.image))
        _umount(str(disk.mount_point))
        with contextlib.suppress(OSError):
            os.rmdir(disk.mount_point)
        with contextlib.suppress(OSError):
            os.unlink(disk.paths.image)
        with self._cond:
            self._live.discard(disk)

    def close(self) -> None:
        """Stop making disks; remove every disk, ready or handed out (the sandboxes are
        gone by now)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
        with self._cond:
            disks = list(self._live)
            self._ready.clear()
        for disk in disks:
            self.remove(disk)
        with self._template_lock:
            for image in self._templates.values():
                with contextlib.suppress(OSError):
                    os.unlink(image)
            self._templates.clear()

    def statistics(self) -> dict[int, int]:
        """Ready disks by size."""
        with self._cond:
            return {size: len(q) for size, q in self._ready.items() if q}

    def _todo(self) -> tuple[list[int], list[TmpDisk]]:
        """The sizes to make, and the ready disks taken to be removed (under the lock)."""
        ready = {size: len(q) for size, q in self._ready.items()}
        wanted = plan.spares_wanted(self.default_mb, self.spares, self._recent)
        drop = [self._ready[size].pop() for size in plan.spares_to_drop(ready, wanted)]
        return plan.sizes_to_make(ready, wanted), drop

    def _work(self) -> None:
        failures = 0
        while True:
            with self._cond:
                todo, drop = self._todo()
                while not self._closed and not todo and not drop:
                    self._cond.wait()
                    todo, drop = self._todo()
                if self._closed:
                    return  # what it took to drop is removed by close, as all made
            for disk in drop:
                self.remove(disk)
            if not todo:
                continue
            try:
                disk = self.make(todo[0])
            except (OSError, subprocess.SubprocessError) as exc:
                failures += 1
                log.warning("cannot make a spare /tmp disk (%d): %s", failures, exc)
                with self._cond:
                    self._cond.wait(timeout=min(60.0, 2.0**failures))
                continue
            failures = 0
            with self._cond:
                if not self._closed:
                    self._ready.setdefault(disk.size_mb, collections.deque()).append(disk)
                    continue
            self.remove(disk)
            return


def _run(argv: list[str]) -> None:
    done = subprocess.run(
        argv, env=TOOL_ENV, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise subprocess.SubprocessError(
            f"{Path(argv[0]).name} failed ({done.returncode}): {detail[-1] if detail else ''}"
        )


def _umount(point: str) -> None:
    err = loopdev.umount_detached(point)
    if err not in (0, errno.EINVAL, errno.ENOENT):
        log.warning("cannot unmount %s: %s", point, os.strerror(err))


def _mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()
