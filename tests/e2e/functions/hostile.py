"""Hostile function handlers: each one attacks the sandbox it runs in.

Zipped as ``hostile.py`` and deployed once per attack with ``Handler:
hostile.<attack>``. A handler never raises on a failed attempt: it reports what
each attempt did (``{"ok": bool, "error": "PermissionError", "errno": "EACCES"}``)
so the test can assert exactly how the sandbox refused.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

RUNTIME_API = "127.0.0.1:9001"
API = "/2018-06-01/runtime/invocation"


def attempt(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """What calling ``fn(*args)`` did: its value, or the error it raised."""
    try:
        value = fn(*args)
    except OSError as exc:
        return {
            "ok": False,
            "error": type(exc).__name__,
            "errno": errno.errorcode.get(exc.errno or 0, str(exc.errno)),
        }
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "detail": str(exc)[:200]}
    return {"ok": True, "value": value}


def echo(event: Any, context: Any) -> Any:
    return event


def _read(path: str) -> str:
    if os.path.isdir(path):
        return json.dumps(sorted(os.listdir(path)))
    with open(path, "rb") as f:
        return f.read(4096).decode("utf-8", "replace")


def read_paths(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read each of ``event["paths"]`` (list a directory, read a file)."""
    return {path: attempt(_read, path) for path in event["paths"]}


def _write(path: str) -> str:
    with open(path, "w") as f:
        f.write("pwned")
    return path


def write_paths(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Create a file in each of ``event["dirs"]``, and a directory beside it."""
    out = {}
    for d in event["dirs"]:
        out[d] = {
            "file": attempt(_write, os.path.join(d, "pwned.txt")),
            "mkdir": attempt(os.mkdir, os.path.join(d, "pwned.d")),
        }
    return out


def environ_and_processes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every process visible in /proc, with its command line and environment."""
    procs = {}
    for name in sorted(os.listdir("/proc")):
        if name.isdigit():
            procs[name] = {
                "cmdline": attempt(_read, f"/proc/{name}/cmdline"),
                "environ": attempt(_read, f"/proc/{name}/environ"),
            }
    return {"self": os.getpid(), "processes": procs, "own_environ": dict(os.environ)}


def kill_outside(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Signal the given pids, pid 1, and every process we may (-1)."""
    out = {str(pid): attempt(os.kill, pid, signal.SIGKILL) for pid in event["pids"]}
    out["1"] = attempt(os.kill, 1, signal.SIGKILL)
    out["-1"] = attempt(os.kill, -1, signal.SIGKILL)
    return out


def _post(path: str, body: bytes) -> dict[str, Any]:
    conn = http.client.HTTPConnection(RUNTIME_API, timeout=2)
    try:
        conn.request("POST", path, body=body)
        resp = conn.getresponse()
        return {"status": resp.status, "body": resp.read().decode("utf-8", "replace")}
    finally:
        conn.close()


def _listening_loopback_ports() -> list[int]:
    open_ports = []
    for port in range(1, 65536):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # A socket whose ephemeral port is the one dialled connects to itself.
            if s.connect_ex(("127.0.0.1", port)) == 0 and s.getsockname() != s.getpeername():
                open_ports.append(port)
    return open_ports


def runtime_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Try to answer another environment's invocation, scan loopback, then answer
    our own invocation through 127.0.0.1:9001 with the report."""
    other = event["other_request_id"]
    attempts = []
    deadline = time.monotonic() + event["seconds"]
    while time.monotonic() < deadline:
        attempts.append(attempt(_post, f"{API}/{other}/response", b'"hijacked"'))
        time.sleep(0.1)
    report = {
        "other": [a.get("value", a) for a in attempts],
        "listening": _listening_loopback_ports(),
    }
    # The first answer wins: the caller gets this body only if 127.0.0.1:9001 is this
    # environment's own Runtime API.
    own = {"via": "runtime api", **report}
    _post(f"{API}/{context.aws_request_id}/response", json.dumps(own).encode())
    return {"via": "handler return", **report}


def sleep(event: dict[str, Any], context: Any) -> str:
    time.sleep(event["seconds"])
    return "slept"


def _connect(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=2) as s:
        host, port = s.getsockname()[:2]
        return f"{host}:{port}"


def _route_source() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.200", 9))  # no packet is sent: only a route look-up
        return str(s.getsockname()[0])


def network(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Connect to each of ``event["targets"]``; report interfaces and the route."""
    return {
        "connect": {f"{h}:{p}": attempt(_connect, h, p) for h, p in event["targets"]},
        "interfaces": [name for _, name in socket.if_nameindex()],
        "route_source": attempt(_route_source),
    }


def _run(argv: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5, check=False
    )
    return {"rc": proc.returncode, "stdout": proc.stdout[-500:], "stderr": proc.stderr[-500:]}


def _status() -> dict[str, str]:
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in (
                "Uid",
                "Gid",
                "NoNewPrivs",
                "CapInh",
                "CapPrm",
                "CapEff",
                "CapBnd",
                "CapAmb",
                "Seccomp",
            ):
                fields[key] = value.strip()
    return fields


def setuid_root(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Try every setuid-root binary on the root file system, then setuid(0)."""
    runs = {}
    for argv in (
        ["su", "root", "-c", "id -u"],
        ["sudo", "-n", "id", "-u"],
        ["passwd", "-d", "root"],
        ["mount", "-t", "tmpfs", "x", "/tmp"],
        ["newgrp", "root"],
    ):
        runs[" ".join(argv)] = attempt(_run, argv)
    return {
        "setuid_binaries": sorted(
            os.path.join(d, n)
            for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
            if os.path.isdir(d)
            for n in os.listdir(d)
            if os.stat(os.path.join(d, n)).st_mode & 0o4000
        ),
        "runs": runs,
        "setuid0": attempt(os.setuid, 0),
        "euid": os.geteuid(),
        "uid": os.getuid(),
        "status": _status(),
    }


def allocate(event: dict[str, Any], context: Any) -> int:
    """Touch ``event["mb"]`` MB of memory."""
    chunks = []
    for _ in range(event["mb"] // 16):
        chunks.append(b"x" * (16 << 20))
    return len(chunks) * 16


def fill_tmp(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Write to /tmp until the file system is full (at most ``event["mb"]`` MB)."""
    block = b"\0" * (1 << 20)
    written = 0
    outcome: dict[str, Any] = {"ok": True}
    fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while written < event["mb"] << 20:
            try:
                written += os.write(fd, block)
            except OSError as exc:
                outcome = {"ok": False, "errno": errno.errorcode.get(exc.errno or 0)}
                break
    finally:
        os.close(fd)
    st = os.statvfs("/tmp")
    size = st.f_blocks * st.f_frsize
    os.unlink("/tmp/fill")
    return {"written_mb": written / (1 << 20), "tmp_size_mb": size / (1 << 20), **outcome}


def fork_bomb(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every process forks forever; the handler reports how far it got."""
    forked = 0
    first_error = None
    deadline = time.monotonic() + event.get("seconds", 1.0)
    while time.monotonic() < deadline:
        try:
            pid = os.fork()
        except OSError as exc:
            first_error = first_error or errno.errorcode.get(exc.errno or 0)
            continue
        if pid == 0:
            # A child: fork on, then hold its slot.
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)
        forked += 1
    return {"forked": forked, "first_error": first_error}


def spin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Busy-loop on ``event["procs"]`` processes for ``event["seconds"]`` of wall time."""
    seconds = float(event["seconds"])
    started = time.monotonic()
    pids = []
    for _ in range(event["procs"]):
        pid = os.fork()
        if pid == 0:
            end = started + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "share": cpu / wall}


def flood(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Write ``event["mb"]`` MB of log lines to stdout as fast as possible, then one
    line of ``event["line_mb"]`` MB with no newline until its end."""
    line = b"f" * 1023 + b"\n"
    block = line * 64
    started = time.monotonic()
    written = 0
    while written < event["mb"] << 20:
        written += os.write(1, block)
    big = b"g" * (event["line_mb"] << 20) + b"\n"
    view = memoryview(big)
    while view:
        view = view[os.write(1, view) :]
    return {"written_mb": written >> 20, "seconds": time.monotonic() - started}


_held: list[int] = []
_libc = None


def _libc_call(name: str, *args: Any) -> int:
    import ctypes

    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result = int(getattr(_libc, name)(*args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def hold_inotify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Take every inotify instance this uid may have, and keep them (warm)."""
    error = None
    while len(_held) < 100_000:
        try:
            _held.append(_libc_call("inotify_init1", 0))
        except OSError as exc:
            error = errno.errorcode.get(exc.errno or 0)
            break
    return {"held": len(_held), "error": error}


def inotify_once(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Whether this environment can get one inotify instance."""
    return attempt(lambda: os.close(_libc_call("inotify_init1", 0)))


KEY_SPEC_USER_KEYRING = -4
SYS_ADD_KEY, SYS_KEYCTL = 248, 250  # x86_64
KEYCTL_SEARCH, KEYCTL_READ = 10, 11


def add_user_key(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Leave a secret in this uid's user keyring."""
    data = event["secret"].encode()
    return attempt(
        _libc_call,
        "syscall",
        SYS_ADD_KEY,
        b"user",
        b"lambdad-probe",
        data,
        len(data),
        KEY_SPEC_USER_KEYRING,
    )


def read_user_key(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Look for another environment's secret in this uid's user keyring."""
    import ctypes

    def read() -> str:
        key = _libc_call(
            "syscall",
            SYS_KEYCTL,
            KEYCTL_SEARCH,
            KEY_SPEC_USER_KEYRING,
            b"user",
            b"lambdad-probe",
            0,
        )
        buf = ctypes.create_string_buffer(4096)
        n = _libc_call("syscall", SYS_KEYCTL, KEYCTL_READ, key, buf, 4096)
        return buf.raw[:n].decode()

    return attempt(read)


def user_namespace(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Try to become root in a new user namespace (unshare, clone, the unshare tool)."""
    return {
        "unshare": attempt(os.unshare, os.CLONE_NEWUSER),
        "unshare_tool": attempt(_run, ["unshare", "--user", "--map-root-user", "id", "-u"]),
        "uid": os.getuid(),
    }


SYSCALLS = {  # x86_64
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "syslog": 103,
    "io_uring_setup": 425,
}


def kernel_interfaces(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Call kernel interfaces exploits start from (null arguments: only the errno
    matters)."""
    return {
        name: attempt(_libc_call, "syscall", nr, 0, 0, 0, 0, 0) for name, nr in SYSCALLS.items()
    }


def preload_report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the library in ``LD_PRELOAD`` logged of the processes that loaded it."""
    path = os.environ.get("PRELOAD_LOG", "")
    return {
        "log": attempt(_read, path),
        "ld_preload": os.environ.get("LD_PRELOAD"),
        "uid": os.getuid(),
    }


def host_facts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the sandbox's /proc says of the host."""
    paths = [
        "/proc/self/mountinfo",
        "/proc/self/cgroup",
        "/proc/cmdline",
        "/proc/1/cmdline",
        "/proc/self/environ",
        "/proc/meminfo",
    ]
    return {
        path: attempt(lambda p: open(p, "rb").read().decode("utf-8", "replace"), path)
        for path in paths
    }
