"""A SnapStart function for the end-to-end tests: it records what its init and its
runtime hooks did, and reports what the environment it runs in sees.

Zipped as ``snap.py`` and deployed with ``Handler: snap.<handler>``. The variable
``FAIL_AT`` (``init``, ``before_snapshot`` or ``after_restore``) makes that step raise;
``after_restore_hangs`` makes the after-restore hook hang.
The hooks are registered both ways ``snapshot_restore_py`` offers: as decorators and
as calls with arguments. With ``INIT_ATTACKS`` set, the init tries to create user
namespaces and to reach the template's other processes (``attacks()``), and writes what
happened to ``/tmp/init-attacks.json`` (so every restored environment has it), which the
``init_attacks`` handler returns with the same attempts made after the restore.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import random
import signal
import socket
import subprocess
import time
import uuid
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

FAIL_AT = os.environ.get("FAIL_AT", "")


def tmp_dir() -> str:
    """/tmp in a sandbox; the environment's scratch directory over ``process``."""
    return os.environ.get("TMPDIR", "/tmp")


INIT_DIR = os.path.join(tmp_dir(), "init-cache")
INIT_FILE = os.path.join(INIT_DIR, "written-by-init")
INIT_LOG = os.path.join(INIT_DIR, "log")  # opened by the init, and kept open

if FAIL_AT == "init":
    raise RuntimeError("init failed on purpose: no database")

STATE: dict[str, Any] = {
    "init_id": uuid.uuid4().hex,  # one per init: the same in every restored environment
    "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
    "before_snapshot": [],
    "after_restore": [],
}
# Shared with its group (the directory) and with everyone (the file), umask or not.
os.mkdir(INIT_DIR)
os.chmod(INIT_DIR, 0o770)
with open(INIT_FILE, "w") as f:
    f.write("init")
os.chmod(INIT_FILE, 0o666)
LOG = open(INIT_LOG, "a")  # noqa: SIM115
LOG.write("init\n")
LOG.flush()


@register_before_snapshot
def first_before_snapshot() -> None:
    STATE["before_snapshot"].append("decorated")
    if FAIL_AT == "before_snapshot":
        raise ValueError("before-snapshot hook failed on purpose")


def record(kind: str, *args: Any, **kwargs: Any) -> None:
    STATE[kind].append({"args": list(args), "kwargs": kwargs})


register_before_snapshot(record, "before_snapshot", 1, 2, flag="b")


@register_after_restore
def first_after_restore() -> None:
    STATE["after_restore"].append("decorated")
    if FAIL_AT == "after_restore":
        raise ValueError("after-restore hook failed on purpose")
    if FAIL_AT == "after_restore_hangs":
        time.sleep(60)


register_after_restore(record, "after_restore", 3, flag="a")


def _errno_of(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


def _attempt(fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return {"ok": True, "value": fn(*args)}
    except OSError as exc:
        return {"ok": False, "errno": _errno_of(exc)}


def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What this environment is: its state, randomness, /tmp, processes, identity.

    ``{"write": name}`` writes ``/tmp/<name>`` first, and appends its name to the log
    the init opened; ``{"sleep": s}`` then waits, so that concurrent invokes overlap
    (and see each other's files, were /tmp shared).
    ``{"exit": status}`` exits instead; ``{"allocate_mb": n}`` holds n MB first."""
    if "exit" in event:
        os._exit(event["exit"])
    held = [bytearray(1 << 20) for _ in range(event.get("allocate_mb", 0))]
    if event.get("write"):
        with open(os.path.join(tmp_dir(), event["write"]), "w") as f:
            f.write(context.aws_request_id)
        LOG.write(event["write"] + "\n")
        LOG.flush()
    time.sleep(event.get("sleep", 0))
    with open(INIT_FILE) as f:
        init_file = f.read()
    with open(INIT_LOG) as f:
        init_log = f.read()
    return {
        "state": STATE,
        "pid": os.getpid(),
        "uid": os.getuid(),
        "random": [random.random() for _ in range(3)],
        "uuid": str(uuid.uuid4()),
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "held_mb": len(held),
        "tmp": sorted(os.listdir(tmp_dir())),
        "init_file": init_file,
        "init_log": init_log,
        "init_modes": [oct(os.stat(p).st_mode & 0o7777) for p in (INIT_DIR, INIT_FILE)],
        "processes": sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int),
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "log_stream": context.log_stream_name,
        "memtotal": open("/proc/meminfo").readline().split()[1:],
    }


def _unshare_user() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# clone(2) and clone3(2) by number, where the tests run.
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
CLONE_NEWUSER = 0x10000000
_PTRACE_ATTACH, _PTRACE_DETACH = 16, 17


def _clone_user() -> int:
    """clone(CLONE_NEWUSER | SIGCHLD) as a fork: the child exits at once."""
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.syscall(
        ctypes.c_long(_CLONE[platform.machine()]),
        ctypes.c_ulong(CLONE_NEWUSER | signal.SIGCHLD),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if pid == 0:
        os._exit(0)
    if pid < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    os.waitpid(pid, 0)
    return int(pid)


def _clone3() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    args = (ctypes.c_uint64 * 11)(CLONE_NEWUSER, 0, 0, 0, int(signal.SIGCHLD))
    pid = libc.syscall(ctypes.c_long(_CLONE3), args, ctypes.c_size_t(ctypes.sizeof(args)))
    if pid == 0:
        os._exit(0)
    if pid < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    os.waitpid(pid, 0)
    return int(pid)


def _unshare_tool() -> dict[str, Any]:
    run = subprocess.run(
        ["unshare", "--user", "--map-root-user", "id", "-u"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return {"rc": run.returncode, "stdout": run.stdout, "stderr": run.stderr}


def _ptrace(pid: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    args = (ctypes.c_long(_PTRACE_ATTACH), ctypes.c_long(pid), None, None)
    if libc.ptrace(*args) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    libc.ptrace(ctypes.c_long(_PTRACE_DETACH), ctypes.c_long(pid), None, None)
    return pid


def _os_unshare_user() -> None:
    """``os.unshare(os.CLONE_NEWUSER)`` (Python 3.12 on), through libc before."""
    unshare = getattr(os, "unshare", None)
    if unshare is None:
        _unshare_user()
    else:
        unshare(CLONE_NEWUSER)


def _open(path: str) -> str:
    os.close(os.open(path, os.O_RDONLY))
    return path


def _uid_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def attacks() -> dict[str, Any]:
    """New user namespaces four ways, and, for every other process of this uid that
    this one sees (a template's namespace factory), its namespaces, descriptors,
    memory and ptrace."""
    own = str(os.getpid())
    others = [p for p in os.listdir("/proc") if p.isdigit() and p != own]
    same_uid = [p for p in others if _uid_of(p) == os.getuid()]
    return {
        "unshare": _attempt(_os_unshare_user),
        "clone": _attempt(_clone_user),
        "clone3": _attempt(_clone3),
        "unshare_tool": _attempt(_unshare_tool),
        "same_uid": {
            pid: {
                "userns": _attempt(_open, f"/proc/{pid}/ns/user"),
                "netns": _attempt(_open, f"/proc/{pid}/ns/net"),
                "fds": _attempt(os.listdir, f"/proc/{pid}/fd"),
                "mem": _attempt(_open, f"/proc/{pid}/mem"),
                "ptrace": _attempt(_ptrace, int(pid)),
            }
            for pid in same_uid
        },
    }


INIT_ATTACKS = os.path.join(tmp_dir(), "init-attacks.json")
if os.environ.get("INIT_ATTACKS"):
    with open(INIT_ATTACKS, "w") as f:
        json.dump(attacks(), f)


def init_attacks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the init's attacks did (in the template), and the same now."""
    with open(INIT_ATTACKS) as f:
        during_init = json.load(f)
    return {"init": during_init, "handler": attacks(), "pid": os.getpid()}


KERNEL_SETTINGS = ("kernel/core_pattern", "kernel/hostname", "vm/drop_caches")


def _rewrite_proc_sys(setting: str) -> None:
    """Write a kernel setting's own value back (no harm done, were it allowed)."""
    path = os.path.join("/proc/sys", setting)
    try:
        with open(path) as f:
            value = f.read()
    except PermissionError:
        value = "1\n"  # drop_caches is write-only: dropping clean caches is harmless
    with open(path, "w") as f:
        f.write(value)


def _status(field: str) -> str:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    raise KeyError(field)


def _read(path: str) -> int:
    with open(path, "rb") as f:
        return len(f.read())


def escape(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Try to get out of a restored environment: a user namespace, capabilities,
    signals to the host's pids ``event["pids"]`` (the template's, the siblings') and to
    every process it may signal, its pid 1's memory (which holds the capabilities of
    the environment's namespaces), kernel settings. ``{"sleep": s}`` waits first."""
    time.sleep(event.get("sleep", 0))
    return {
        "unshare": _attempt(_unshare_user),
        "cap_eff": _status("CapEff"),
        "kill": {str(pid): _attempt(os.kill, pid, 0) for pid in event.get("pids", [])},
        "kill_all": _attempt(os.kill, -1, signal.SIGKILL),
        "pid1": {p: _attempt(_read, f"/proc/1/{p}") for p in ("environ", "mem")},
        "proc_sys": {s: _attempt(_rewrite_proc_sys, s) for s in KERNEL_SETTINGS},
        "processes": sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int),
        "uid": os.getuid(),
        "log_stream": context.log_stream_name,
    }
