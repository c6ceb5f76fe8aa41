"""One ``lambdad serve`` per data directory: ``serve.lock`` in it, locked (``flock``)
for the server's life and naming its pid.

A second server started on the same directory would, before failing to bind its port,
clean up the first one's cgroups and environments, recover its queues as a restarted
server does, and point ``lambdad credentials`` at itself. The kernel drops the lock when
the process ends, ``kill -9`` included: a crash leaves nothing to clean up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

FILE_NAME = "serve.lock"


class DataDirInUse(Exception):
    """Another process holds the data directory's lock."""


def hold(data_dir: Path) -> int:
    """Lock ``data_dir`` for this process; the descriptor to keep open (closing it
    releases the lock). ``DataDirInUse`` naming the holder's pid if it is taken."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / FILE_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise DataDirInUse(
            f"another `lambdad serve` (pid {holder}) is using {data_dir}: stop it first, "
            "or pass another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
