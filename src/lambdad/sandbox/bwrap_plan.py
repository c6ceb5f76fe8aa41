"""The bwrap sandbox's plan: its root, its command line, its variables. No processes.

Each environment runs under Debian's bubblewrap with mount, PID, IPC, UTS and
(unless the network mode is ``host``) network namespaces, on a minimal read-only
root: the host's ``/usr`` and the few ``/etc`` files runtimes need, the code at
``/var/task``, layers at ``/opt``, lambdad's bootstraps at ``/var/runtime``, a
fresh ``/tmp`` of ``EphemeralStorage`` MB (a disk of its own, else a tmpfs), its own
``/proc`` and a minimal ``/dev``. The runtime runs as an unprivileged uid with
``no_new_privs`` and no capabilities (``setpriv`` inside the sandbox).

No byte the function controls reaches a privileged process: bwrap and setpriv run
as root with a fixed environment (``PRIVILEGED_ENV``) and bwrap keeps only the
capabilities setpriv needs to drop to the sandbox uid. The function's variables
(``LD_PRELOAD`` among them) are applied by the last, unprivileged exec: a shell,
already the sandbox uid with ``no_new_privs``, reads them from its stdin
(``env_script``; they never appear on a command line, which the host's other users
can read) and execs the runtime with them. ``sandbox/bwrap.py`` runs this plan.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambdad.errors import SandboxError
from lambdad.sandbox.base import SandboxSpec
from lambdad.sandbox.meminfo import meminfo

TASK = "/var/task"
RUNTIME = "/var/runtime"
OPT = "/opt"
# Where AWS's images keep the runtime's interpreter (``/var/lang/bin/python3.12``, its
# standard library under ``/var/lang/lib``): the host interpreter's install prefix is
# bound there and run from there, so ``sys.executable``, ``sys.prefix`` and tracebacks
# show AWS's paths.
LANG = "/var/lang"
SANDBOX_USER = "sbx_user1051"
# What bwrap and setpriv (privileged) start with: nothing of the function's.
PRIVILEGED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C"}
# bwrap (as root) drops every capability but these before exec'ing the privileged
# stages: ``unshare --cgroup`` (a cgroup namespace rooted at the environment's own
# cgroup, which it joined after bwrap made its namespaces) and setpriv (uid, groups,
# bounding set).
STAGE_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")
# The unprivileged last stage: AWS's resource limits (1,024 open files, no core dumps;
# hard limits, so the function cannot raise them), the function's variables from
# stdin, then the runtime with stdin on /dev/null.
APPLY_ENV = 'ulimit -n 1024 && ulimit -c 0 && . /dev/stdin && exec "$@" </dev/null'
# The environment's /etc/hosts: the sandbox's own names on its loopback, where its
# extensions' telemetry listeners are reached (``sandbox.localdomain``, as on AWS).
HOSTS = "127.0.0.1\tlocalhost sandbox.localdomain sandbox\n::1\tlocalhost\n"
# The next privileged stage (root, CAP_SYS_ADMIN, the fixed environment): the host
# directories the sandbox shows (code, lambdad's runtimes, layers, the interpreter's
# prefix) become read-only overlays at their places. A bind's line in
# /proc/self/mountinfo names its directory's path on the host (the data directory, the
# install path); an overlay's root is its own, and its options name only the staging
# binds under /dev/shm, unmounted (with the empty directory every overlay needs as its
# second layer, and the fstab listing them: ``overlay_fstab``) before the runtime runs.
# It works from / (bwrap's --chdir: a working directory under a staging bind would
# keep it busy) and ends in /var/task.
STAGING = "/dev/shm"
FSTAB = f"{STAGING}/fstab"
HIDE_BINDS = (
    f'cd / && mount -n -a -T {FSTAB} && umount -n -R {STAGING} && cd {TASK} && exec "$@"; exit 1'
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ETC_FILES = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/mime.types",
)


@dataclass(frozen=True, slots=True)
class Tools:
    """Where the host's privileged programs are (resolved once, by the backend)."""

    bwrap: str
    setpriv: str
    unshare: str


def etc_files(uid: int, gid: int, user: str, network: str, host_resolv: str) -> dict[str, str]:
    """The generated /etc files of an environment, by name: passwd and group name its
    uid, resolv.conf the resolver of its network (``host_resolv``: the host's, for
    ``host``)."""
    resolv = "nameserver 10.0.2.3\n" if network == "isolated" else ""
    if network == "host":
        resolv = host_resolv
    passwd = f"root:x:0:0:root:/root:/sbin/nologin\n{user}:x:{uid}:{gid}::/tmp:/sbin/nologin\n"
    return {
        "passwd": passwd,
        "group": f"root:x:0:\n{user}:x:{gid}:\n",
        "hosts": HOSTS,
        "resolv.conf": resolv,
    }


def host_etc_files(network: str, uid: int) -> dict[str, str]:
    """``etc_files`` for the sandbox user ``uid``, with this host's resolver."""
    host_resolv = ""
    if network == "host" and Path("/etc/resolv.conf").exists():
        host_resolv = Path("/etc/resolv.conf").read_text()
    return etc_files(uid, uid, SANDBOX_USER, network, host_resolv)


def generated_files(network: str, uid: int, memory_mb: int | None = None) -> dict[str, bytes]:
    """Files the sandbox sees whose content the platform writes (through
    ``--ro-bind-data``: a bind of a bwrap-private copy, no host path behind it): the
    generated /etc files, an empty /proc/cmdline instead of the host's boot
    command line, and (given ``memory_mb``) a /proc/meminfo of the environment's
    memory instead of the host's (``sandbox/meminfo.py``)."""
    files = {f"/etc/{name}": text.encode() for name, text in host_etc_files(network, uid).items()}
    files["/proc/cmdline"] = b""
    if memory_mb is not None:
        files["/proc/meminfo"] = meminfo(memory_mb)
    return files


def bwrap_argv(
    tools: Tools,
    spec: SandboxSpec,
    network: str,
    info_fd: int,
    block_fd: int,
    uid: int,
    seccomp_fd: int | None = None,
    data_fds: Mapping[str, int] | None = None,
    tmp_disk: str | None = None,
) -> list[str]:
    """bwrap's command line; ``data_fds``: sandbox path -> descriptor of the
    content bwrap binds there (``generated_files``); ``tmp_disk``: where the
    environment's /tmp disk is mounted (``tmp_args``)."""
    data_fds = data_fds or {}
    a = [tools.bwrap, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for cap in STAGE_CAPS:
        a += ["--cap-add", cap]
    a += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if network != "host":
        a.append("--unshare-net")
    a += ["--hostname", "localhost"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            a += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            a += ["--ro-bind", top, top]
    a += sh_is_bash()
    # bwrap makes missing parent directories 0700 (unreadable to the sandbox user):
    # create every parent of a mount point first, world-readable.
    dests = [p for p in ETC_FILES if os.path.lexists(p)] + ["/etc/passwd", TASK, RUNTIME]
    lang = lang_prefix(spec.host_paths)
    dests += [LANG] if lang is not None else []
    dests += [inside for _, inside in spec.extra_ro]
    for parent in parents(dests):
        a += ["--perms", "0755", "--dir", parent]
    for path in ETC_FILES:
        if os.path.lexists(path):
            a += ["--ro-bind", path, path]
    for dest, fd in data_fds.items():
        if dest.startswith("/etc/"):
            a += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    shown = shown_dirs(spec)
    for _, inside in shown:
        a += ["--perms", "0755", "--dir", inside]
    if spec.opt_dir is None:
        a += ["--dir", OPT]
    for host_path, inside in spec.extra_ro:
        a += ["--ro-bind", str(host_path), inside]
    a += ["--proc", "/proc", "--dev", "/dev"]
    for dest, fd in data_fds.items():
        if dest.startswith("/proc/"):
            a += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
    # What HIDE_BINDS makes overlays of, staged where it unmounts them.
    a += ["--tmpfs", STAGING, "--dir", f"{STAGING}/e"]
    for i, (host, _) in enumerate(shown):
        a += ["--ro-bind", host, f"{STAGING}/l{i}"]
    if FSTAB in data_fds:
        a += ["--ro-bind-data", str(data_fds[FSTAB]), FSTAB]
    a += tmp_args(spec, tmp_disk)
    a += ["--remount-ro", "/", "--chdir", "/"]
    a += ["--info-fd", str(info_fd), "--block-fd", str(block_fd)]
    if seccomp_fd is not None:
        a += ["--seccomp", str(seccomp_fd)]
    a.append("--")
    a += [tools.unshare, "--cgroup", "--", "/bin/sh", "-c", HIDE_BINDS, "sh"]
    a += [tools.setpriv, *setpriv_flags(uid), "--", "/bin/sh", "-c", APPLY_ENV, "sh"]
    a += [rewrite(spec, x) for x in spec.argv]
    return a


def tmp_args(spec: SandboxSpec, tmp_disk: str | None) -> list[str]:
    """bwrap's arguments for /tmp: the root of the environment's disk mounted at
    ``tmp_disk`` (``sandbox/tmpdisk.py``; bwrap adds nosuid and nodev to a bind), else a
    tmpfs of the ephemeral storage size."""
    if tmp_disk is not None:
        return ["--bind", tmp_disk, "/tmp"]
    return ["--perms", "1777", "--size", str(spec.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]


def setpriv_flags(uid: int) -> list[str]:
    """setpriv's options: the sandbox uid and gid, no groups, no capabilities of any
    kind, ``no_new_privs``."""
    return [
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]


def sh_is_bash(sh: str = "/bin/sh", bash: str = "/usr/bin/bash") -> list[str]:
    """bwrap's arguments that make ``/bin/sh`` bash, as on Amazon Linux, where the
    host's is another shell (Debian's dash): a ``provided`` runtime's bootstrap written
    for AWS (its tutorial's ``#!/bin/sh`` with ``set -euo pipefail`` and ``source``)
    runs unchanged. The file sh resolves to is shown with bash's content."""
    if not os.path.exists(bash):
        return []
    target = os.path.realpath(sh)
    if not os.path.exists(target) or target == os.path.realpath(bash):
        return []
    return ["--ro-bind", os.path.realpath(bash), target]


def shown_dirs(spec: SandboxSpec) -> list[tuple[str, str]]:
    """The host directories the sandbox shows, as (host path, where it is inside)."""
    lang = lang_prefix(spec.host_paths)
    out = [(str(lang), LANG)] if lang is not None else []
    out += [(str(spec.task_dir), TASK), (str(spec.runtime_dir), RUNTIME)]
    if spec.opt_dir is not None:
        out.append((str(spec.opt_dir), OPT))
    return out


def overlay_fstab(spec: SandboxSpec) -> bytes:
    """What HIDE_BINDS mounts: a read-only overlay of each staged directory."""
    lines = [
        f"overlay {inside} overlay ro,nosuid,nodev,lowerdir={STAGING}/l{i}:{STAGING}/e 0 0"
        for i, (_, inside) in enumerate(shown_dirs(spec))
    ]
    return "\n".join(lines).encode() + b"\n"


def rewrite(spec: SandboxSpec, value: str) -> str:
    """Host paths in argv and variables, as the runtime sees them inside."""
    value = value.replace("{task}", TASK).replace(str(spec.task_dir), TASK)
    value = value.replace(str(spec.runtime_dir), RUNTIME)
    if spec.opt_dir is not None:
        value = value.replace(str(spec.opt_dir), OPT)
    for host_path, inside in spec.extra_ro:
        value = value.replace(str(host_path), inside)
    for interpreter in spec.host_paths[:1]:
        if value == str(interpreter):
            return lang_interpreter(interpreter)
    return value


def env_script(env: dict[str, str]) -> bytes:
    """``env`` as the shell of the last stage sources it: exactly these variables
    (the shell's own PWD and the privileged stages' PATH dropped unless set)."""
    lines = [f"unset {name}" for name in ("PWD", "OLDPWD", *PRIVILEGED_ENV) if name not in env]
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise SandboxError(f"cannot pass the variable {name!r} to the runtime")
        if "\0" in value:
            raise SandboxError(f"the variable {name} holds a NUL byte")
        quoted = value.replace("'", "'\\''")
        lines.append(f"export {name}='{quoted}'")
    return "\n".join(lines).encode() + b"\n"


def lang_prefix(paths: tuple[Path, ...]) -> Path | None:
    """The install prefix of the environment's interpreter (the first of ``paths``), which
    the sandbox shows at ``/var/lang``: ``/usr`` for a distribution's interpreter, the
    version's directory for pyenv's. None without an interpreter (``provided``)."""
    if not paths:
        return None
    real = Path(os.path.realpath(paths[0]))
    return real.parent.parent if real.parent.name == "bin" else real.parent


def lang_interpreter(interpreter: Path | str) -> str:
    """Where the sandbox runs ``interpreter`` from: ``/var/lang/bin/python3.12``."""
    real = Path(os.path.realpath(interpreter))
    prefix = lang_prefix((real,))
    assert prefix is not None
    return f"{LANG}/{real.relative_to(prefix)}"


def parents(paths: list[str]) -> list[str]:
    """Every ancestor directory of ``paths`` (outside the host-bound top levels), in order."""
    out: list[str] = []
    for path in paths:
        parts = Path(path).parts[1:-1]
        for i in range(1, len(parts) + 1):
            parent = "/" + "/".join(parts[:i])
            if parent not in out:
                out.append(parent)
    return out
