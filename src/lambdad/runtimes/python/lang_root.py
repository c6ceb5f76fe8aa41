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

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SLAVE = 0x80000

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


def main() -> None:
    prefix, fallback, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        build(prefix)
    except OSError as exc:
        sys.stderr.write(f"lambdad: zygote not moved to /var/lang: {exc}\n")
        argv = [fallback, *argv[1:]]
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
