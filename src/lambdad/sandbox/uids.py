"""A uid (and gid) of its own for every sandboxed environment.

The kernel keeps some limits and state per uid, across every namespace: inotify
instances and watches, the user keyring, RLIMIT_NPROC, message-queue bytes. With one
uid for all environments, one function could exhaust them for every other function
on the host, or leave data in its keyring for the next one to read. So each
environment runs as its own uid from a range no host account uses, handed out
round-robin: a uid comes back into use only after the whole range has been cycled.
"""

from __future__ import annotations

import threading

from lambdad.errors import SandboxError


class UidPool:
    """Hands out uids from ``[base, base + count)``; ``release`` gives one back."""

    def __init__(self, base: int, count: int) -> None:
        if base <= 0 or count <= 0 or base + count > 2**31:
            raise ValueError(f"bad sandbox uid range {base}+{count}")
        self.base = base
        self.count = count
        self._next = 0
        self._in_use: set[int] = set()
        self._lock = threading.Lock()

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
