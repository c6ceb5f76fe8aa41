"""Mounting a file system image through a loop device, and the mount calls around it,
without a program: ``LOOP_CONFIGURE`` and ``mount(2)`` in about a millisecond, where
``mount -o loop`` costs a process and 4-5 ms (``sandbox/tmpdisk.py`` makes a disk per
environment). Also copying an image's data and nothing of its holes, shutting a
mounted disk down, and ``open_tree(2)``, ``umount2(2)``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat
import struct

LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
# Freed by the kernel once the last mount of its file system goes.
LO_FLAGS_AUTOCLEAR = 4
MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 2
# ``EXT4_IOC_SHUTDOWN`` (``_IOR('X', 125, __u32)``), flushing nothing: every later write
# to that file system, through any descriptor, fails with EIO.
EXT4_IOC_SHUTDOWN = 0x8004587D
EXT4_GOING_FLAGS_NOLOGFLUSH = 2
LOOP_MAJOR = 7
AT_FDCWD = -100
OPEN_TREE_CLONE = 1
# open_tree(2) has one number on every architecture (added after the tables merged).
SYS_OPEN_TREE = 428
# Another thread (or server) may take the free device first: try the next.
ATTEMPTS = 8

_libc = ctypes.CDLL(None, use_errno=True)


def loop_config(backing_fd: int) -> bytes:
    """``struct loop_config``: the backing file, the default block size, and a
    ``loop_info64`` with nothing but ``LO_FLAGS_AUTOCLEAR``."""
    info = struct.pack(
        "=QQQQQIIII64s64s32sQQ", 0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_AUTOCLEAR, b"", b"", b"", 0, 0
    )
    return struct.pack("=II", backing_fd, 0) + info + bytes(64)


def mount_image(image: str, target: str, fstype: str = "ext4") -> None:
    """``image`` mounted on ``target`` (``nosuid,nodev``) through a free loop device, which
    the kernel frees when that file system's last mount is gone."""
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        device, number = _configured_loop(backing)
    finally:
        os.close(backing)
    try:
        result = _libc.mount(
            f"/dev/loop{number}".encode(),
            os.fsencode(target),
            fstype.encode(),
            ctypes.c_ulong(MS_NOSUID | MS_NODEV),
            None,
        )
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {target}: {os.strerror(err)}")
    finally:
        # Unmounted or never mounted, the device is released with this descriptor.
        os.close(device)


def _configured_loop(backing: int) -> tuple[int, int]:
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(ATTEMPTS):
            number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
            device = os.open(f"/dev/loop{number}", os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.ioctl(device, LOOP_CONFIGURE, loop_config(backing))
            except OSError as exc:
                os.close(device)
                if exc.errno == errno.EBUSY:
                    continue
                raise
            return device, number
    finally:
        os.close(control)
    raise OSError(errno.EBUSY, "no free loop device")


def open_tree_clone(path: str) -> int:
    """A descriptor (close-on-exec) of a detached copy of the mount at ``path``."""
    fd = int(
        _libc.syscall(
            ctypes.c_long(SYS_OPEN_TREE),
            ctypes.c_int(AT_FDCWD),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC),
        )
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree {path}: {os.strerror(err)}")
    return fd


def shut_down(mount_point: str) -> bool:
    """The ext4 file system of a loop device mounted on ``mount_point`` shut down (its
    data dropped, writes through descriptors still open on it fail with EIO): True; False
    when nothing of that kind is mounted there (never a host file system's shutdown)."""
    try:
        fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        parent = os.stat(os.path.dirname(mount_point.rstrip("/")) or "/")
        if os.major(st.st_dev) != LOOP_MAJOR or st.st_dev == parent.st_dev:
            return False
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        return True
    finally:
        os.close(fd)


def empty_file(path: str) -> None:
    """``path``'s blocks freed (truncated to nothing; never through a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def umount_detached(path: str) -> int:
    """``umount2(path, MNT_DETACH)``: 0, or the error number."""
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        return ctypes.get_errno()
    return 0


def copy_sparse(source: str, target: str) -> None:
    """``source`` copied to a new file ``target`` (0600, never an existing file or a
    link), its holes left holes: a fresh image costs the few hundred KB of metadata
    its template holds, not its size."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        dst = os.open(target, flags, 0o600)
        try:
            end = os.fstat(src).st_size
            os.ftruncate(dst, end)
            offset = 0
            while offset < end:
                try:
                    data = os.lseek(src, offset, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # only a hole is left
                        break
                    raise
                hole = os.lseek(src, data, os.SEEK_HOLE)
                position = data
                while position < hole:
                    copied = os.copy_file_range(src, dst, hole - position, position, position)
                    if copied == 0:
                        raise OSError(errno.EIO, f"short copy of {source}")
                    position += copied
                offset = hole
        finally:
            os.close(dst)
    finally:
        os.close(src)
