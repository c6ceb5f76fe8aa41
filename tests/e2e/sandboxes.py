"""Helpers for end-to-end tests of real sandboxes (bwrap backend, cgroups).

``require_full_isolation()`` skips the calling test module, with the reason, where
full isolation cannot run (not root, no bwrap, no writable cgroups); on CI it
raises instead, since there it must run. ``deploy_hostile`` deploys a handler of
``functions/hostile.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import LambdadServer, make_zip

HOSTILE_SOURCE = (Path(__file__).parent / "functions" / "hostile.py").read_text()
ROOT_CGROUP = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "pids")


def missing_isolation() -> str | None:
    """Why full isolation cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return f"needs root for namespaces and cgroups (running as uid {os.geteuid()})"
    from lambdad.sandbox.select import capabilities, full_isolation_possible

    if full_isolation_possible():
        return None
    missing = [f"{c.name} ({c.fix})" for c in capabilities() if not c.present]
    return "full isolation cannot run here: missing " + "; ".join(missing)


def require_full_isolation() -> None:
    reason = missing_isolation()
    if reason is None:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"sandbox tests must run on CI: {reason}")
    pytest.skip(reason, allow_module_level=True)


def cgroup_parent(data_dir: Path) -> str:
    """The cgroup parent of a server's environments (one per data directory)."""
    return "lambdad-" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]


def cgroup_dirs(data_dir: Path) -> list[Path]:
    """The server's parent cgroup in each hierarchy (v2: one; v1: one per controller)."""
    parent = cgroup_parent(data_dir)
    if (ROOT_CGROUP / "cgroup.controllers").exists():
        return [ROOT_CGROUP / parent]
    return [ROOT_CGROUP / c / parent for c in V1_CONTROLLERS]


def env_cgroups(data_dir: Path) -> set[Path]:
    """The environment cgroups of a server, in the hierarchy that counts pids."""
    parents = cgroup_dirs(data_dir)
    parent = next((p for p in parents if p.name == "pids" or p.parent.name == "pids"), parents[0])
    return {d for d in parent.iterdir() if d.is_dir()} if parent.is_dir() else set()


def pids_current(cgroup: Path) -> int:
    try:
        return int((cgroup / "pids.current").read_text())
    except FileNotFoundError:
        return 0


def cgroup_procs(cgroup: Path) -> list[int]:
    try:
        return [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> dict[int, str]:
    """Live direct children of ``pid``: pid -> command name."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out[int(entry.name)] = comm
    return out


def descendants(pid: int) -> dict[int, str]:
    """Live descendants of ``pid``: pid -> command name."""
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        found = children(todo.pop())
        out.update(found)
        todo.extend(found)
    return out


def deploy_hostile(
    srv: LambdadServer, handler: str, *, files: dict[str, str] | None = None, **params: Any
) -> str:
    """Create a function running ``hostile.<handler>``; its name once Active."""
    name = f"hostile-{handler.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    args: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": f"arn:aws:iam::{srv.credential.account_id}:role/lambda-role",
        "Handler": f"hostile.{handler}",
        "Code": {"ZipFile": make_zip({"hostile.py": HOSTILE_SOURCE, **(files or {})})},
        "Timeout": 10,
        "MemorySize": 128,
        **params,
    }
    client = srv.client()
    client.create_function(**args)
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    return name


def host_address() -> str | None:
    """This host's address on its default route, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.200", 9))
        except OSError:
            return None
        addr: str = s.getsockname()[0]
    return None if addr.startswith("127.") else addr


@contextlib.contextmanager
def host_listener(backlog: int) -> Iterator[tuple[str, int]]:
    """A TCP service published on this host's non-loopback address (the kernel
    completes the handshakes: nothing needs to accept them). Where there is no such
    address: skipped, except on CI, which must have one."""
    addr = host_address()
    if addr is None:
        if os.environ.get("CI"):
            raise RuntimeError("network tests must run on CI: no non-loopback IPv4 address")
        pytest.skip("this host has no non-loopback IPv4 address")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        s.listen(backlog)
        yield addr, s.getsockname()[1]
