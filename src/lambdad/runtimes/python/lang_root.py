"""Start a sandboxed zygote from ``/var/lang``, where AWS keeps the runtime's interpreter.

Run by the platform (as root, on the host interpreter, ``-I -S``) as
``lang_root.py PREFIX INTERPRETER_INSIDE ARG...``: it takes a mount namespace of its
own, shows the host's ``/var`` there as before (a tmpfs whose entries are binds of the
host's) plus ``/var/lang``, a read-only bind of the interpreter's install prefix
``PREFIX``, and execs ``INTERPRETER_INSIDE ARG...`` (``/var/lang/bin/python3.12 ...``).
The zygote's ``sys.executable``, ``sys.prefix`` and module paths then say ``/var/lang``,
as in the sandboxes it forks (which bind the same prefix there), so a forked runtime's
tracebacks read as an exec'd one's. Nothing changes in the host's mount namespace; when
a step fails, it execs the host interpreter as it is (``FALLBACK``: the same zygote,
showing host paths).

Stdlib only, CPython 3.9+.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SLAVE = 0x80000
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    if _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def build(prefix: str) -> None:
    """This process's own mount namespace, with ``prefix`` at /var/lang."""
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    # Host mounts made later (cgroups, code) still reach the zygote; none go back.
    _mount(None, "/", None, MS_REC | MS_SLAVE, None)
    host_var = os.open("/var", os.O_PATH | os.O_DIRECTORY)
    names = sorted(os.listdir("/var"))
    _mount("tmpfs", "/var", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for name in names:
        source, target = f"/proc/self/fd/{host_var}/{name}", f"/var/{name}"
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
            continue
        if os.path.isdir(source):
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        _mount(source, target, None, MS_BIND | MS_REC, None)
    os.close(host_var)
    os.mkdir("/var/lang", 0o755)
    _mount(prefix, "/var/lang", None, MS_BIND | MS_REC, None)
    _mount(None, "/var/lang", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    _mount(None, "/var", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


# How a /tmp disk's mount point is named, by any lambdad server (sandbox/tmpdisk_plan.py).
_TMP_DISK = re.compile(r"/tmp-disks/[0-9]+m-[0-9a-f]{8}-[0-9]{8}$")
_ESCAPED = re.compile(r"\\([0-7]{3})")


def detach_tmp_disks() -> None:
    """The copies of lambdad's /tmp disks this namespace was made with, unmounted from it:
    a zygote lives long, and each copy would keep a disk's file system, loop device and
    deleted image alive after its environment is gone."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split(" ")[4] for line in f.read().splitlines() if line.count(" ") > 4]
    for point in points:
        path = _ESCAPED.sub(lambda m: chr(int(m.group(1), 8)), point)
        if _TMP_DISK.search(path):
            _libc.umount2(os.fsencode(path), ctypes.c_int(MNT_DETACH))


def main() -> None:
    prefix, fallback, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        build(prefix)
    except OSError as exc:
        sys.stderr.write(f"lambdad: zygote not moved to /var/lang: {exc}\n")
        argv = [fallback, *argv[1:]]
    else:
        # In its own mount namespace only (never the host's, had unshare failed).
        with contextlib.suppress(OSError):
            detach_tmp_disks()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
