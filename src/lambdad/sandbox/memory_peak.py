"""An environment's peak memory as the function experiences it (REPORT's Max Memory Used).

On AWS each environment is a microVM: everything its runtime touched, the interpreter
and its libraries included, counts against it. Here a zygote-forked runtime shares most
of its pages with its zygote, which the environment's cgroup never charged (they were
charged to the zygote's): the cgroup's peak of a forked no-op Python function reads a few
MB where AWS shows 30-40. So the peak is the larger of the cgroup's peak and the largest
peak resident size (``VmHWM``, shared pages included) among the processes in it: not
their sum, which would count the pages a sandbox's init (forked from the same zygote)
shares with the runtime twice; what the runtime's own children add privately is charged
to the cgroup and counted there.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

PROC = Path("/proc")
# Status files kept open per environment: a runtime and its few helpers. A function that
# forks hundreds of processes gets the rest read and closed each time, so what it does
# never holds more than this many of the server's file descriptors.
MAX_KEPT = 8
# While the cgroup's peak stands still, its processes' peaks are read at most this often
# (seconds): what they map without the cgroup being charged (pages shared with the zygote,
# files cached by others) shows within this long; what the function allocates raises the
# cgroup's peak and is read at once.
TREE_INTERVAL = 1.0


def hwm_bytes(status: bytes) -> int | None:
    """``VmHWM`` of one ``/proc/<pid>/status``, in bytes (None: a kernel thread or none)."""
    start = status.find(b"VmHWM:")
    if start < 0:
        return None
    fields = status[start + 6 :].split(None, 1)
    return int(fields[0]) * 1024 if fields and fields[0].isdigit() else None


def tree_peak_bytes(pids: Iterable[int], proc: Path = PROC) -> int:
    """The largest peak resident size among ``pids`` (processes gone count 0)."""
    best = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            best = max(best, hwm_bytes((proc / str(pid) / "status").read_bytes()) or 0)
    return best


def environment_peak(cgroup_peak: int | None, tree_peak: int, before: int = 0) -> int:
    """The environment's peak: the largest of its cgroup's peak, its processes' summed
    peak, and what was read ``before`` (a process that exited took its peak along); 0
    when nothing could be read."""
    return max(cgroup_peak or 0, tree_peak, before)


class PeakReader:
    """An environment's peak as ``environment_peak`` of its cgroup's peak file and the
    ``VmHWM`` of the processes its ``cgroup.procs`` files list, read after every
    invocation through files kept open: one ``pread`` per file, no path walk, open or
    close (which cost more than the reads themselves, and REPORT is on every invoke's
    path); at most ``MAX_KEPT`` status files, the others read and closed. The status
    files (the costly reads: the kernel sums a process's memory for each) only when the
    cgroup's peak moved or ``TREE_INTERVAL`` passed. ``close`` is idempotent."""

    def __init__(
        self,
        peak_paths: Sequence[Path],
        procs_paths: Sequence[Path],
        proc: Path = PROC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._peak_paths = list(peak_paths)
        self._procs_paths = list(procs_paths)
        self._proc = proc
        self._clock = clock
        # The cgroup's peak when the processes' were last read, and when.
        self._tree_seen: tuple[int, float] | None = None
        self._peak_fd: int | None = None  # -1: none of the peak files could be opened
        self._procs_fds: list[int] | None = None
        self._status: dict[int, int] = {}  # pid -> its status file
        self.peak = 0  # what was read last (a process gone took its own peak along)

    def read(self) -> int:
        """The peak in bytes so far (0 when nothing could be read)."""
        cgroup = self._cgroup_peak()
        now = self._clock()
        seen = self._tree_seen
        if seen is not None and seen[0] == cgroup and now - seen[1] < TREE_INTERVAL:
            return self.peak
        tree = 0
        pids = self._pids()
        for pid in pids:
            tree = max(tree, self._hwm(pid))
        if len(self._status) > len(pids):
            for gone in self._status.keys() - pids:
                os.close(self._status.pop(gone))
        self.peak = environment_peak(cgroup, tree, self.peak)
        self._tree_seen = None if cgroup is None else (cgroup, now)
        return self.peak

    def close(self) -> None:
        fds = [*self._status.values(), *(self._procs_fds or ())]
        if self._peak_fd is not None and self._peak_fd >= 0:
            fds.append(self._peak_fd)
        self._status.clear()
        self._procs_fds = []
        self._peak_fd = -1
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _cgroup_peak(self) -> int | None:
        if self._peak_fd is None:
            self._peak_fd = _open_first(self._peak_paths)
        if self._peak_fd < 0:
            return None
        try:
            fields = os.pread(self._peak_fd, 64, 0).split()
        except OSError:
            return None
        return int(fields[0]) if fields and fields[0].isdigit() else None

    def _pids(self) -> set[int]:
        if self._procs_fds is None:
            opened = (_open_first([path]) for path in self._procs_paths)
            self._procs_fds = [fd for fd in opened if fd >= 0]
        out: set[int] = set()
        for fd in self._procs_fds:
            with contextlib.suppress(OSError, ValueError):
                out.update(int(pid) for pid in _pread_all(fd).split())
        return out

    def _hwm(self, pid: int) -> int:
        # A kept file of a process that exited fails to read; its pid may be another
        # process's now (listed in the cgroup, so one of this environment's): reopened once.
        for _ in (0, 1):
            fd = self._status.get(pid)
            if fd is None:
                if len(self._status) >= MAX_KEPT:
                    return tree_peak_bytes((pid,), self._proc)
                fd = _open_first([self._proc / str(pid) / "status"])
                if fd < 0:
                    return 0
                self._status[pid] = fd
            try:
                return hwm_bytes(os.pread(fd, 4096, 0)) or 0
            except OSError:
                os.close(self._status.pop(pid))
        return 0


def _open_first(paths: Iterable[Path]) -> int:
    for path in paths:
        with contextlib.suppress(OSError):
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    return -1


def _pread_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while True:
        data = os.pread(fd, 65536, offset)
        chunks.append(data)
        if len(data) < 65536:
            return b"".join(chunks)
        offset += len(data)
