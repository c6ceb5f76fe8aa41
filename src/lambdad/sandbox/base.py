"""The seam between execution environments and the operating system.

A ``SandboxBackend`` starts the process of one execution environment from a
``SandboxSpec``. Starting is two steps so the platform can hand the runtime its
Runtime API before the runtime runs: ``prepare()`` creates whatever isolates the
environment and returns a listening socket that the runtime (and only it) can
reach at ``runtime_api_address``; ``run()`` lets the runtime start.

Guarantees every backend keeps:
- ``destroy()`` is idempotent and leaves nothing behind (process tree, cgroup,
  mounts, temporary directories); calls after it raise ``SandboxError``.
- ``output_fd`` is the read end of one pipe carrying the runtime's stdout and
  stderr, in the order written.
- ``wait()`` returns the exit status: ``>= 0`` an exit code, ``< 0`` a signal.

SnapStart goes through the same seam: a backend that ``takes_snapshots`` (the zygote
fast path) prepares a version's template (``prepare_template``) and hands out the
``restorer`` that makes its new environments' sandboxes from it; the others refuse
both (``WithoutSnapshots``), and environments of SnapStart versions start as
on-demand ones do.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lambdad.errors import SandboxError


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    env_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    task_dir: Path
    runtime_dir: Path
    opt_dir: Path | None = None
    memory_mb: int = 128
    tmp_mb: int = 512
    pids_limit: int = 1024
    network: str = "isolated"
    # Paths of host executables the runtime needs (interpreters), for backends that
    # build a minimal root.
    host_paths: tuple[Path, ...] = field(default_factory=tuple)
    # Whose environment it is (the account): what must never share a template process
    # with another tenant's (sandbox/zygote.py).
    tenant: str = ""
    # More host directories it sees, read-only: (host path, path inside). A backend
    # without a root of its own shows them at their host paths.
    extra_ro: tuple[tuple[Path, str], ...] = ()
    # A container image's unpacked root, which is then the sandbox's ``/`` (read-only;
    # task_dir, runtime_dir, opt_dir and host_paths unused), and the working directory
    # its runtime starts in. Only the bwrap backend runs images.
    root_dir: Path | None = None
    workdir: str = ""

    @property
    def vcpus(self) -> float:
        # AWS: 1,769 MB buys one vCPU; capped at 6.
        return min(6.0, max(self.memory_mb / 1769.0, 0.05))


class Sandbox(Protocol):
    env_id: str
    pid: int
    output_fd: int
    runtime_api_address: str

    def runtime_api_socket(self) -> socket.socket: ...
    async def run(self) -> None: ...
    async def network_ready(self) -> None: ...
    def end_init(self) -> None: ...
    async def wait(self) -> int: ...
    # Whether its top process has exited, asked now (``wait`` learns it on the loop).
    def exited_now(self) -> bool: ...
    def kill(self) -> None: ...
    async def destroy(self) -> None: ...
    def memory_peak_bytes(self) -> int | None: ...
    def tmp_path(self) -> Path | None: ...


# How a restored environment's sandbox is made (``SandboxBackend.restorer``).
Restorer = Callable[[SandboxSpec], Awaitable[Sandbox]]


class SandboxBackend(Protocol):
    name: str
    # Whether ``prepare_template`` and ``restorer`` work here.
    takes_snapshots: bool

    async def prepare(self, spec: SandboxSpec) -> Sandbox: ...

    async def prepare_template(self, spec: SandboxSpec, channel: socket.socket) -> Sandbox:
        """A SnapStart template for ``spec``: a sandbox built as any environment's, whose
        runtime is handed ``channel`` (its end of the restore channel) and, after the
        function's init, reports the snapshot taken there instead of asking for work.
        Raises ``SandboxError`` when this backend (or this spec) takes no snapshot."""
        ...

    def restorer(self, template: Sandbox, channel: socket.socket) -> Restorer:
        """How new environments are restored from ``template`` (``prepare_template``'s),
        over ``channel``, the platform's end of its restore channel. Each restored
        sandbox is destroyed if its restore fails."""
        ...

    def describe(self) -> str: ...
    def close(self) -> None: ...


class WithoutSnapshots:
    """What a backend that execs every environment answers for SnapStart: no."""

    takes_snapshots = False

    async def prepare_template(self, spec: SandboxSpec, channel: socket.socket) -> Sandbox:
        raise SandboxError("no snapshot: this backend forks no templates")

    def restorer(self, template: Sandbox, channel: socket.socket) -> Restorer:
        raise SandboxError("no restore: this backend forks no templates")
