"""The root file system of a zygote-forked sandbox, planned as a list of mount steps.

The zygote's keeper (``runtimes/python/zygote.py``) executes the plan inside the new
mount namespace; this module only decides it, from the ``SandboxSpec`` and a
``HostLayout`` probed once. The result is the layout bwrap builds for the same spec
(``sandbox/bwrap.py``): the host's ``/usr`` and top-level links, the few ``/etc`` files
runtimes need, the interpreter's prefix, ``/var/task``, ``/var/runtime`` and ``/opt``
read-only, a fresh ``/proc`` (``sys``, ``sysrq-trigger``, ``irq``, ``bus`` read-only), a
minimal ``/dev``, and a tmpfs ``/tmp`` of the function's ephemeral storage.

Steps (JSON lists): ``["dir", path, mode]``, ``["symlink", target, path]``,
``["bind", host_source, path, {"file", "ro", "nodev", "inside", "optional"}]``,
``["overlay", host_source, path]`` (a read-only overlay of the directory alone: unlike
a bind's, its line in /proc/self/mountinfo names no host path),
``["file", path, content, mode]`` (written into the new root: ``/etc/passwd``, ``group``,
``resolv.conf``), ``["data", path, content, mode]`` (a read-only file of ``content`` bound
over the existing ``path``, from a memfd: no file of the root or the host behind it;
``/proc/meminfo``), ``["tmpfs", path, options]``, ``["proc", path]``, ``["devpts", path]``,
``["mount_fd", index, path]`` (the ``index``-th mount descriptor sent with the plan,
moved onto ``path``: a ``/tmp`` disk, ``sandbox/tmpdisk.py``), ``["detach_tmp_disks"]``
(``DETACH_TMP_DISKS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdad.sandbox.base import SandboxSpec
from lambdad.sandbox.bwrap_plan import (
    ETC_FILES,
    LANG,
    OPT,
    RUNTIME,
    TASK,
    lang_prefix,
    parents,
)
from lambdad.sandbox.meminfo import meminfo

TOP_LEVEL = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
    ("/proc/kcore", "/dev/core"),
)
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus")

Step = list[Any]


@dataclass(frozen=True, slots=True)
class EtcEntry:
    path: str  # where the sandbox sees it
    source: str  # the host file it binds (symlinks resolved)
    is_dir: bool


@dataclass(frozen=True, slots=True)
class HostLayout:
    """What the host offers to bind: top-level entries, /etc files, device nodes."""

    top_level: tuple[tuple[str, str | None], ...]  # (path, symlink target or None: a dir)
    etc: tuple[EtcEntry, ...]
    devices: tuple[str, ...]


def probe_host() -> HostLayout:
    top: list[tuple[str, str | None]] = []
    for path in TOP_LEVEL:
        if os.path.islink(path):
            top.append((path, os.readlink(path)))
        elif os.path.isdir(path):
            top.append((path, None))
    etc = [
        EtcEntry(path, os.path.realpath(path), os.path.isdir(path))
        for path in ETC_FILES
        if os.path.exists(path)
    ]
    devices = tuple(d for d in DEVICES if os.path.exists(f"/dev/{d}"))
    return HostLayout(tuple(top), tuple(etc), devices)


def inside_paths(spec: SandboxSpec) -> dict[str, str]:
    """Host directory -> where the sandbox sees it."""
    out = {str(spec.task_dir): TASK, str(spec.runtime_dir): RUNTIME}
    if spec.opt_dir is not None:
        out[str(spec.opt_dir)] = OPT
    return out


def plan_root(
    spec: SandboxSpec, host: HostLayout, etc: Mapping[str, str], tmp: Step | None = None
) -> list[Step]:
    """The steps that build ``spec``'s root, in order (parents before children).

    ``etc``: the generated files of /etc (``etc_files``), by name; ``tmp``: how /tmp is
    made (``tmp_step``)."""
    return plan_base(host, spec.runtime_dir, spec.host_paths) + plan_own(spec, etc, tmp)


def plan_base(host: HostLayout, runtime_dir: Path, host_paths: tuple[Path, ...]) -> list[Step]:
    """What every environment of one interpreter shares: system directories, /etc files,
    the interpreter, lambdad's runtimes, /proc and /dev (a spare sandbox is built this far
    ahead of need; ``plan_own`` finishes it)."""
    ro_dir: dict[str, bool] = {}
    ro_file = {"file": True}
    plan: list[Step] = []
    for path, target in host.top_level:
        if target is not None:
            plan.append(["symlink", target, path])
        else:
            plan.append(["bind", path, path, ro_dir])
    lang = lang_prefix(host_paths)
    langs = [LANG] if lang is not None else []
    mount_points = [e.path for e in host.etc] + ["/etc/passwd", TASK, RUNTIME, *langs]
    plan += [["dir", parent, "0755"] for parent in parents(mount_points)]
    for entry in host.etc:
        plan.append(["bind", entry.source, entry.path, ro_dir if entry.is_dir else ro_file])
    if lang is not None:
        # The interpreter's prefix where AWS has it (``bwrap_plan.LANG``).
        plan.append(["overlay", str(lang), LANG])
    plan.append(["overlay", str(runtime_dir), RUNTIME])
    plan.append(["proc", "/proc"])
    for name in PROC_READ_ONLY:
        path = f"/proc/{name}"
        is_file = name == "sysrq-trigger"
        plan.append(["bind", path, path, {"inside": True, "optional": True, "file": is_file}])
    plan.append(["tmpfs", "/dev", "mode=0755,size=64k"])
    for name in host.devices:
        plan.append(
            ["bind", f"/dev/{name}", f"/dev/{name}", {"file": True, "ro": False, "nodev": False}]
        )
    plan += [["symlink", target, path] for target, path in DEV_LINKS]
    plan.append(["dir", "/dev/shm", "0755"])
    plan.append(["devpts", "/dev/pts"])
    # The host's boot command line is none of the function's business: it reads empty.
    plan.append(
        ["bind", "/dev/null", "/proc/cmdline", {"inside": True, "file": True, "nodev": False}]
    )
    return plan


def plan_own(spec: SandboxSpec, etc: Mapping[str, str], tmp: Step | None = None) -> list[Step]:
    """What is the environment's own: its code, its layers, its /etc files (uid), its
    /tmp of its ephemeral storage size (``tmp``, default a tmpfs), its /proc/meminfo of
    its memory."""
    plan: list[Step] = [
        ["file", f"/etc/{name}", content, "0644"] for name, content in sorted(etc.items())
    ]
    plan.append(["data", "/proc/meminfo", meminfo(spec.memory_mb).decode(), "0444"])
    plan.append(["overlay", str(spec.task_dir), TASK])
    if spec.opt_dir is not None:
        plan.append(["overlay", str(spec.opt_dir), OPT])
    else:
        plan.append(["dir", OPT, "0755"])
    plan.append(tmp if tmp is not None else tmp_step(spec))
    return plan


def tmp_step(spec: SandboxSpec, moved: int | None = None) -> Step:
    """How /tmp is made: the environment's disk, moved from the ``moved``-th mount
    descriptor sent with the plan (a detached copy of the disk's mount: the zygote's and
    a spare's mount namespaces are older than the disk, and a bind would name its host
    path), else a tmpfs of the ephemeral storage size."""
    if moved is not None:
        return ["mount_fd", moved, "/tmp"]
    return ["tmpfs", "/tmp", f"mode=1777,size={spec.tmp_mb * 1024 * 1024}"]


# Unmounts, from the keeper's view of the host, every /tmp disk (any server's) mounted
# when it was made: a spare, parked for long, keeps none of them alive
# (``sandbox/tmpdisk.py``).
DETACH_TMP_DISKS: Step = ["detach_tmp_disks"]


def split_proc_read_only(plan: list[Step]) -> tuple[list[Step], list[Step]]:
    """A SnapStart template's plan and what its restored environments redo.

    A restored environment mounts a /proc of its own PID namespace, from inside a user
    namespace; the kernel allows that only where the /proc it can already see has no
    mount over any of its contents. So the template's /proc goes without the
    read-only binds (its runtime has no privilege to write there anyway), and each
    restored environment mounts its /proc and then those binds over it."""
    own = [step for step in plan if not _proc_read_only(step)]
    redo: list[Step] = [["proc", "/proc"], *(step for step in plan if _proc_read_only(step))]
    return own, redo


def _proc_read_only(step: Step) -> bool:
    if step[0] == "data":
        return str(step[1]).startswith("/proc/")
    return step[0] == "bind" and str(step[2]).startswith("/proc/")
