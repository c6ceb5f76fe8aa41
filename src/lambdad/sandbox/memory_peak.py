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
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


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
