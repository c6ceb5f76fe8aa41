"""cgroups for execution environments, on the unified (v2) or the legacy (v1) hierarchy.

One cgroup per environment under a ``lambdad`` parent, created before the runtime
starts and removed after it stops: memory limit = MemorySize with swap off, CPU
quota proportional to memory, a pids limit. The same small interface over both
hierarchies: ``create``, ``attach``, ``memory_peak``, ``oom_killed``, ``destroy``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PARENT = "lambdad"
V1_CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int
    vcpus: float
    pids: int


def detect(root: Path = ROOT) -> str | None:
    """The usable hierarchy, "v2" or "v1"; None when none is writable."""
    if (root / "cgroup.controllers").exists():
        return "v2" if os.access(root, os.W_OK) else None
    if all((root / c).is_dir() for c in V1_CONTROLLERS):
        return "v1" if all(os.access(root / c, os.W_OK) for c in V1_CONTROLLERS) else None
    return None


def controllers(root: Path = ROOT) -> dict[str, bool]:
    """Each controller lambdad uses, and whether it is available (for ``doctor``)."""
    if (root / "cgroup.controllers").exists():
        have = set((root / "cgroup.controllers").read_text().split())
        return {c: c in have for c in V1_CONTROLLERS}
    return {c: (root / c).is_dir() for c in V1_CONTROLLERS}


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CgroupManager:
    """Creates and removes environment cgroups under one parent per server."""

    def __init__(self, version: str, root: Path = ROOT, parent: str = PARENT) -> None:
        self.version = version
        self.root = root
        self.parent = parent

    def _dirs(self, name: str) -> list[Path]:
        if self.version == "v2":
            return [self.root / self.parent / name]
        return [self.root / c / self.parent / name for c in V1_CONTROLLERS]

    def setup(self) -> None:
        if self.version == "v2":
            parent = self.root / self.parent
            parent.mkdir(exist_ok=True)
            # Controllers must be enabled for the children of every level.
            for level in (self.root, parent):
                with contextlib.suppress(OSError):
                    _write(level / "cgroup.subtree_control", "+memory +cpu +pids")
        else:
            for c in V1_CONTROLLERS:
                (self.root / c / self.parent).mkdir(exist_ok=True)

    def create(self, name: str, limits: Limits) -> EnvironmentCgroup:
        cg = EnvironmentCgroup(self, name)
        try:
            # One hierarchy made and the next refused (v1) must leave none behind.
            for d in self._dirs(name):
                d.mkdir(parents=True, exist_ok=True)
            cg.apply(limits)
        except BaseException:
            cg.destroy()
            raise
        return cg

    def teardown(self) -> None:
        """Remove this server's parent cgroup (after every environment is gone)."""
        self.cleanup_leftovers()
        bases = (
            [self.root / self.parent]
            if self.version == "v2"
            else [self.root / c / self.parent for c in V1_CONTROLLERS]
        )
        for base in bases:
            with contextlib.suppress(OSError):
                base.rmdir()

    def cleanup_leftovers(self) -> int:
        """Remove cgroups (killing their processes) left by an earlier run."""
        removed = 0
        bases = (
            [self.root / self.parent]
            if self.version == "v2"
            else [self.root / c / self.parent for c in V1_CONTROLLERS]
        )
        names: set[str] = set()
        for base in bases:
            if base.is_dir():
                names.update(p.name for p in base.iterdir() if p.is_dir())
        for name in names:
            EnvironmentCgroup(self, name).destroy()
            removed += 1
        return removed


class EnvironmentCgroup:
    def __init__(self, manager: CgroupManager, name: str) -> None:
        self.manager = manager
        self.name = name
        self.dirs = manager._dirs(name)
        self._v2 = manager.version == "v2"

    def _dir(self, controller: str) -> Path:
        if self._v2:
            return self.dirs[0]
        return self.manager.root / controller / self.manager.parent / self.name

    def apply(self, limits: Limits) -> None:
        mem = self._dir("memory")
        cpu = self._dir("cpu")
        pids = self._dir("pids")
        quota = max(1000, int(limits.vcpus * CPU_PERIOD_US))
        if self._v2:
            _write(mem / "memory.max", str(limits.memory_bytes))
            with contextlib.suppress(OSError):
                _write(mem / "memory.swap.max", "0")
            with contextlib.suppress(OSError):
                _write(mem / "memory.oom.group", "1")
            _write(cpu / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            _write(pids / "pids.max", str(limits.pids))
        else:
            _write(mem / "memory.limit_in_bytes", str(limits.memory_bytes))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                with contextlib.suppress(OSError):
                    _write(mem / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
            with contextlib.suppress(OSError):
                _write(mem / "memory.swappiness", "0")
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(quota))
            _write(pids / "pids.max", str(limits.pids))

    def set_cpu(self, vcpus: float | None) -> None:
        """Cap CPU at ``vcpus`` (None: no cap, for the init phase)."""
        cpu = self._dir("cpu")
        quota = max(1000, int(vcpus * CPU_PERIOD_US)) if vcpus is not None else None
        if self._v2:
            _write(cpu / "cpu.max", f"{quota if quota else 'max'} {CPU_PERIOD_US}")
        else:
            _write(cpu / "cpu.cfs_quota_us", str(quota if quota else -1))

    def attach(self, pid: int) -> None:
        for d in self.dirs:
            _write(d / "cgroup.procs", str(pid))

    def join_files(self) -> list[str]:
        """What a process writes "0" to, to move itself into this cgroup: on v1, each
        hierarchy's ``tasks`` (a thread moving itself there skips the lock a
        whole-process move takes, which waits for an RCU grace period); on v2,
        ``cgroup.procs``."""
        name = "cgroup.procs" if self._v2 else "tasks"
        return [str(d / name) for d in self.dirs]

    def open_joins(self) -> list[int]:
        """Descriptors (close-on-exec, the caller's to close) of ``join_files``, sent to
        a process that joins this cgroup; none left open when one cannot be opened."""
        fds: list[int] = []
        try:
            for path in self.join_files():
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def memory_peak(self) -> int | None:
        mem = self._dir("memory")
        if self._v2:
            peak = _read_int(mem / "memory.peak")
            return peak if peak is not None else _read_int(mem / "memory.current")
        return _read_int(mem / "memory.max_usage_in_bytes")

    def memory_peak_paths(self) -> list[Path]:
        """The files ``memory_peak`` reads, in order: for a reader that keeps one open."""
        mem = self._dir("memory")
        if self._v2:
            return [mem / "memory.peak", mem / "memory.current"]
        return [mem / "memory.max_usage_in_bytes"]

    def memory_current(self) -> int | None:
        mem = self._dir("memory")
        return _read_int(mem / ("memory.current" if self._v2 else "memory.usage_in_bytes"))

    def oom_killed(self) -> bool:
        mem = self._dir("memory")
        name = "memory.events" if self._v2 else "memory.oom_control"
        try:
            for line in (mem / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        # Older v1 kernels have no oom_kill counter: fall back to failcnt.
        if not self._v2:
            failcnt = _read_int(mem / "memory.failcnt")
            return bool(failcnt)
        return False

    def memory_procs_path(self) -> Path:
        """The processes the memory controller charges to this cgroup (its
        ``cgroup.procs``): for a peak reader that keeps it open."""
        return self._dir("memory") / "cgroup.procs"

    def pids(self) -> list[int]:
        """The processes in the cgroup (on v1, every hierarchy's: a process joins them
        one after the other)."""
        out: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                out.update(int(p) for p in (d / "cgroup.procs").read_bytes().split())
        return sorted(out)

    def kill_all(self) -> None:
        if self._v2 and (self.dirs[0] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.dirs[0] / "cgroup.kill", "1")
                return
        # v1: freeze-free kill loop; a fork bomb is bounded by pids.max, so this ends.
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)

    def destroy(self) -> None:
        """Kill what is left inside and remove the cgroup. Idempotent."""
        self.kill_all()
        for d in self.dirs:
            for _ in range(200):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        log.warning("cannot remove cgroup %s: %s", d, exc)
                        break
                    # Processes take a moment to leave after SIGKILL.
                    self.kill_all()
                    time.sleep(0.005)
