"""A uid (and gid) of its own for every sandboxed environment.

The kernel keeps some limits and state per uid, across every namespace: inotify
instances and watches, the user keyring, RLIMIT_NPROC, message-queue bytes. With one
uid for all environments, one function could exhaust them for every other function
on the host, or leave data in its keyring for the next one to read. So each
environment runs as its own uid from a range no host account uses, handed out
round-robin: a uid comes back into use only after the whole range has been cycled.

Two servers on one host must not hand out the same uids either (their functions
would share those per-uid limits): ``claim_range`` takes the first range from the
configured base on that no other running server holds, by a lock on a file per
range under ``/run/lambdad`` that the server holds for its lifetime (the kernel drops
it when the process ends, however it ends).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path

from lambdad.errors import SandboxError

log = logging.getLogger(__name__)

LOCK_DIR = Path("/run/lambdad/uid-ranges")
# The ranges systemd leaves to containers end here; no server looks past it.
RANGE_END = 0x6FFF0000


def claim_range(base: int, count: int, lock_dir: Path = LOCK_DIR) -> tuple[int, int | None]:
    """(base of the first free range of ``count`` uids from ``base``, the descriptor
    holding it; None where ranges cannot be locked, e.g. not root)."""
    try:
        lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        log.warning("cannot claim a sandbox uid range in %s (%s): using %d", lock_dir, exc, base)
        return base, None
    start = base
    while start + count <= max(RANGE_END, base + count):
        fd = os.open(lock_dir / f"{start}-{count}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            start += count
            continue
        if start != base:
            log.info("sandbox uids %d-%d are another server's: using %d", base, count, start)
        return start, fd
    raise SandboxError(f"every sandbox uid range of {count} from {base} is in use on this host")


def _check_range(base: int, count: int) -> None:
    if base <= 0 or count <= 0 or base + count > 2**31:
        raise ValueError(f"bad sandbox uid range {base}+{count}")


class UidPool:
    """Hands out uids from ``[base, base + count)``; ``release`` gives one back."""

    def __init__(self, base: int, count: int, *, claim: int | None = None) -> None:
        _check_range(base, count)
        self.base = base
        self.count = count
        self._claim = claim  # the lock that keeps other servers off this range
        self._next = 0
        self._in_use: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_host(cls, base: int, count: int, lock_dir: Path = LOCK_DIR) -> UidPool:
        """A pool of the first range from ``base`` no other server on this host holds."""
        _check_range(base, count)  # before any range is claimed
        start, fd = claim_range(base, count, lock_dir)
        return cls(start, count, claim=fd)

    def close(self) -> None:
        """Let other servers have the range (idempotent)."""
        if self._claim is not None:
            with contextlib.suppress(OSError):
                os.close(self._claim)
            self._claim = None

    def acquire(self) -> int:
        with self._lock:
            if len(self._in_use) >= self.count:
                raise SandboxError(
                    f"all {self.count} sandbox uids are in use (raise LAMBDAD_SANDBOX_UID_COUNT)"
                )
            while True:
                uid = self.base + self._next
                self._next = (self._next + 1) % self.count
                if uid not in self._in_use:
                    self._in_use.add(uid)
                    return uid

    def release(self, uid: int) -> None:
        with self._lock:
            self._in_use.discard(uid)

    def in_use(self) -> int:
        with self._lock:
            return len(self._in_use)
