"""An environment forked from a zygote: the ``Sandbox`` the fast path hands out.

Three ways to one: ``launch(spec)`` has the zygote fork the environment and, over
``bwrap``, build its whole sandbox (``runtimes/python/zygote.py``: keeper, namespaces,
root, runtime); ``park()`` builds a spare sandbox before anyone needs it (namespaces,
the shared part of the root, Runtime API socket, NAT, a runtime process waiting) and
``assign(spec)`` then finishes it for one environment (its cgroups, uid, code, /tmp,
/etc files, seccomp filter, variables), which is most of a cold start done ahead.
Its /tmp is a disk of its own (``sandbox/tmpdisk.py``) where the backend has them.

The platform does what it does for bwrap's sandboxes: the cgroup, the uid, the
Runtime API socket inside the network namespace (``netns.listen_in_netns``, with
link-local addresses unreachable) and the NAT helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
from pathlib import Path
from typing import Any, Protocol

from lambdad.errors import SandboxError
from lambdad.sandbox import memory_peak, nat, netns, rootfs, seccomp, zygote_channel, zygote_wire
from lambdad.sandbox.base import SandboxBackend, SandboxSpec
from lambdad.sandbox.bwrap import (
    LINK_LOCAL,
    PROHIBITED_TCP_PORTS,
    RUNTIME_API,
    BwrapBackend,
)
from lambdad.sandbox.bwrap_plan import TASK, rewrite
from lambdad.sandbox.cgroups import EnvironmentCgroup, Limits
from lambdad.sandbox.child import pidfd_exited
from lambdad.sandbox.process import ProcessBackend
from lambdad.sandbox.tmpdisk import TmpDisk
from lambdad.sandbox.zygote_process import Child, ZygoteProcess


class ZygoteHost(Protocol):
    """What a forked sandbox needs of the backend that made it (``zygote.ZygoteBackend``):
    the backend it wraps and what every sandbox's root is built from."""

    @property
    def inner(self) -> SandboxBackend: ...
    @property
    def sandboxed(self) -> bool: ...
    def host_layout(self) -> rootfs.HostLayout: ...
    def base_plan(self, interpreter: str) -> list[rootfs.Step]: ...
    def etc_files(self, network: str, uid: int) -> dict[str, str]: ...


class ZygoteGone(SandboxError):
    """The zygote died while forking an environment."""


class ZygoteSandbox:
    def __init__(self, backend: ZygoteHost, zygote: ZygoteProcess, network: str) -> None:
        self.backend = backend
        self.zygote = zygote
        self.spec: SandboxSpec | None = None
        self.env_id = ""
        self.sandboxed = backend.sandboxed
        self.network = network if self.sandboxed else "host"
        self.pid = 0
        self.output_fd = -1
        self.runtime_api_address = RUNTIME_API
        self.cgroup: EnvironmentCgroup | None = None
        self.uid: int | None = None
        self.work: Path | None = None
        self.tmp_disk: TmpDisk | None = None  # its /tmp (sandbox/tmpdisk.py)
        self._sock: socket.socket | None = None
        self._control: socket.socket | None = None  # to the zygote's child (the keeper)
        self._runtime: socket.socket | None = None  # to the runtime process
        self._child: Child | None = None
        self._nat: nat.Nat | None = None
        self._peak_fd = -1  # the runtime's /proc status, without a cgroup
        self._peaks: memory_peak.PeakReader | None = None  # with one
        self._destroyed = False
        self.from_spare = False
        # A SnapStart template's end of its restore channel (``launch`` hands it over).
        self.template_channel: socket.socket | None = None
        # The platform's end of a sandboxed template's namespace factory (``launch``).
        self.namespace_factory: socket.socket | None = None
        # What its restored environments redo of its root (``rootfs.split_proc_read_only``).
        self.template_proc_plan: list[Any] = []

    @property
    def alive(self) -> bool:
        """A parked spare can still be assigned (its processes are there)."""
        return self._child is not None and not self._child.exited.done() and not self._destroyed

    # -- start-up ------------------------------------------------------------------------

    async def launch(self, spec: SandboxSpec) -> None:
        """Fork an environment for ``spec`` and, sandboxed, build its whole sandbox."""
        self._take(spec)
        inner = self.backend.inner
        if self.network == "host":
            self._listen_on_host()
        if isinstance(inner, BwrapBackend):
            uid = self._own_cgroup_and_uid(inner, spec)
            assert self.cgroup is not None
            # The zygote's mount namespace is older than the disk: the keeper moves a copy
            # of its mount, sent with the request.
            self.tmp_disk = await inner.tmp_disk(spec)
            plan = rootfs.plan_root(
                spec,
                self.backend.host_layout(),
                self.backend.etc_files(self.network, uid),
                rootfs.tmp_step(spec, moved=0) if self.tmp_disk is not None else None,
            )
            filter_ = inner.seccomp
            if self.template_channel is not None:
                plan, self.template_proc_plan = rootfs.split_proc_read_only(plan)
                # Only until the runtime has forked the namespace factory: it then adds
                # the full filter on itself, before the function's init.
                filter_ = seccomp.program(user_namespaces=True) if inner.seccomp else None
            request = zygote_wire.spawn_request(
                "",
                sandboxed=True,
                cwd=TASK,
                plan=plan,
                uid=uid,
                gid=uid,
                network=self.network,
                cgroup_join=self.cgroup.join_files(),
                seccomp=filter_,
            )
            request["mounts"] = 1 if self.tmp_disk is not None else 0
        else:
            assert isinstance(inner, ProcessBackend)
            self.work = inner.work_root / spec.env_id
            (self.work / "tmp").mkdir(parents=True, exist_ok=True)
            request = zygote_wire.spawn_request("", sandboxed=False, cwd=str(spec.task_dir))
        mounts = [self.tmp_disk.mount_fd()] if self.tmp_disk is not None else []
        try:
            await self._spawn(request, mounts)
        finally:
            for fd in mounts:
                os.close(fd)
        if self.sandboxed:
            await self._await_keeper()
        # Inline, the runtime shares the keeper's channel (it is forked after "ok").
        self._runtime, self._control = self._control, None
        assert self._runtime is not None
        message = self._runtime_message(spec)
        if self.template_channel is None:
            self._runtime.send(zygote_wire.encode(message))
            return
        message["snapshot"] = {"sandboxed": self.sandboxed}
        fds = [self.template_channel.fileno()]
        factory: socket.socket | None = None
        if self.sandboxed:
            # The factory's socket goes to the runtime, which forks the factory with it
            # and closes it in itself; the full filter comes with it.
            ours, factory = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ours.setblocking(False)
            self.namespace_factory = ours
            fds.append(factory.fileno())
            full = inner.seccomp if isinstance(inner, BwrapBackend) else None
            message["snapshot"]["seccomp"] = zygote_wire.b64(full) if full else None
        try:
            zygote_channel.send(self._runtime, message, fds)
        finally:
            self.template_channel.close()
            self.template_channel = None
            if factory is not None:
                factory.close()

    async def park(self) -> None:
        """Build a spare sandbox, all but what belongs to one environment."""
        request = zygote_wire.spawn_request(
            "",
            sandboxed=True,
            spare=True,
            cwd=TASK,
            plan=self.backend.base_plan(self.zygote.interpreter),
            network=self.network,
        )
        await self._spawn(request)
        fds = await self._await_keeper(until="parked")
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise SandboxError("the spare sandbox sent no runtime channel")
        self._runtime = socket.socket(fileno=fds[0])

    async def assign(self, spec: SandboxSpec) -> None:
        """Finish a parked spare for ``spec``: its cgroups, uid, code, /tmp, /etc files,
        filter and variables. The keeper and the runtime join the cgroups themselves."""
        self._take(spec)
        self.from_spare = True
        inner = self.backend.inner
        assert isinstance(inner, BwrapBackend)
        assert self._control is not None
        assert self._runtime is not None
        uid = self._own_cgroup_and_uid(inner, spec)
        assert self.cgroup is not None
        # Its mount namespace is older than the disk: the keeper moves a copy of its mount.
        self.tmp_disk = await inner.tmp_disk(spec)
        mounts: list[int] = []
        joins: list[int] = []
        try:
            if self.tmp_disk is not None:
                mounts.append(self.tmp_disk.mount_fd())
            joins = self.cgroup.open_joins()
            confinement: dict[str, Any] = {"uid": uid, "gid": uid}
            if inner.seccomp:
                confinement["seccomp"] = zygote_wire.b64(inner.seccomp)
            message = self._runtime_message(spec, confinement)
            # The runtime first: it confines itself while the keeper finishes the root.
            zygote_channel.send(self._runtime, message, joins)
            tmp = rootfs.tmp_step(spec, moved=0) if mounts else None
            plan = rootfs.plan_own(spec, self.backend.etc_files(self.network, uid), tmp)
            assignment = {"plan": plan, "mounts": len(mounts)}
            zygote_channel.send(self._control, assignment, [*joins, *mounts])
        finally:
            for fd in (*joins, *mounts):
                os.close(fd)
        doc, _ = await zygote_channel.receive(self._control)
        if doc is None or not doc.get("ok"):
            reason = doc.get("error") if doc else "the sandbox's init exited"
            raise SandboxError(f"cannot finish the spare sandbox: {reason}")
        self._close_control()

    def _take(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.env_id = spec.env_id

    def _own_cgroup_and_uid(self, inner: BwrapBackend, spec: SandboxSpec) -> int:
        # Its own uid, as bwrap's sandboxes (released once its cgroup is empty).
        self.uid = uid = inner.uids.acquire()
        self.cgroup = inner.cgroups.create(
            spec.env_id, Limits(spec.memory_mb * 1024 * 1024, spec.vcpus, spec.pids_limit)
        )
        # Boosted CPU during init, as bwrap's sandboxes (capped again by end_init).
        self.cgroup.set_cpu(None)
        return uid

    def _runtime_message(
        self, spec: SandboxSpec, confinement: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        inner = self.backend.inner
        if isinstance(inner, BwrapBackend):
            env = {k: rewrite(spec, v) for k, v in spec.env.items()}
            argv = [rewrite(spec, a) for a in spec.argv[1:]]
            cwd = TASK
        else:
            assert self.work is not None
            env = dict(spec.env)
            env["TMPDIR"] = str(self.work / "tmp")
            argv = [a.replace("{task}", str(spec.task_dir)) for a in spec.argv[1:]]
            cwd = str(spec.task_dir)
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api_address
        return zygote_wire.runtime_message(env, argv, cwd, confinement)

    def _listen_on_host(self) -> None:
        # No namespace of its own: a loopback port of its own instead.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.setblocking(False)
        self.runtime_api_address = f"127.0.0.1:{self._sock.getsockname()[1]}"

    async def _spawn(self, request: dict[str, Any], mounts: list[int] | None = None) -> None:
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        self.output_fd = out_r
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self._control = ours
        try:
            fds = [theirs.fileno(), out_w, *(mounts or [])]
            self._child = await self.zygote.spawn(request, fds)
        except SandboxError as exc:
            if not self.zygote.alive:
                raise ZygoteGone(str(exc)) from exc
            raise
        finally:
            theirs.close()
            os.close(out_w)
        self.pid = self._child.pid

    async def _await_keeper(self, until: str = "ok") -> list[int]:
        """Wait for the keeper's ``until`` message (its descriptors returned); meanwhile,
        once its network namespace exists, make the Runtime API socket there and attach
        the NAT (a spare's too: its helper is up by the time it is assigned)."""
        control = self._control
        assert control is not None
        while True:
            doc, fds = await zygote_channel.receive(control)
            if doc is not None and doc.get("netns"):
                # As for bwrap's sandboxes: link-local addresses (the cloud's metadata
                # service) unreachable, the Runtime API socket made inside it. (A thread
                # joined at once: the keeper builds the root meanwhile, in its process.)
                isolated = self.network == "isolated"
                self._sock = netns.listen_in_netns(
                    self.pid,
                    unreachable=LINK_LOCAL if isolated else (),
                    prohibited_tcp_ports=PROHIBITED_TCP_PORTS if isolated else (),
                )
                self._start_nat_if_isolated()
            elif doc is None or not doc.get(until):
                for fd in fds:
                    os.close(fd)
                reason = doc.get("error") if doc else "the sandbox's init exited"
                raise SandboxError(f"cannot create the sandbox: {reason}")
            else:
                return fds

    def _start_nat_if_isolated(self) -> None:
        helper = getattr(self.backend.inner, "nat", None)
        if self.network == "isolated" and helper:
            self._nat = nat.Nat(helper, self.pid)

    def _close_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    # -- the Sandbox protocol ------------------------------------------------------------

    def runtime_api_socket(self) -> socket.socket:
        assert self._sock is not None
        return self._sock

    def tmp_path(self) -> Path | None:
        return self.work / "tmp" if self.work is not None else None

    async def run(self) -> None:
        channel = self._runtime
        if self._destroyed or channel is None:
            raise SandboxError(f"sandbox {self.env_id} cannot run")
        self._runtime = None
        try:
            channel.send(zygote_wire.encode({"go": True}))
        except OSError as exc:
            raise SandboxError(f"sandbox {self.env_id} is gone: {exc}") from exc
        finally:
            channel.close()
            self._close_control()

    async def network_ready(self) -> None:
        if self._nat is not None:
            await self._nat.wait_ready()

    def end_init(self) -> None:
        if self.cgroup is not None and self.spec is not None:
            self.cgroup.set_cpu(self.spec.vcpus)

    def exited_now(self) -> bool:
        child = self._child
        return child is not None and (child.exited.done() or pidfd_exited(child.pidfd))

    async def wait(self) -> int:
        if self._child is None:
            raise SandboxError(f"sandbox {self.env_id} was never started")
        status = await asyncio.shield(self._child.exited)
        return zygote_wire.exit_code(status, sandboxed=self.sandboxed)

    def kill(self) -> None:
        child = self._child
        if child is None or child.exited.done() or child.pidfd < 0:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
            if not self.sandboxed:
                # Its session: whatever the function started (a sandbox's PID namespace
                # dies with its init instead).
                os.killpg(child.pid, signal.SIGKILL)

    def memory_peak_bytes(self) -> int | None:
        # Read after every invocation (REPORT's Max Memory Used): with pread() of files
        # kept open, not a path walk and open per invoke.
        if self.cgroup is not None:
            if self._peaks is None:
                self._peaks = memory_peak.PeakReader(
                    self.cgroup.memory_peak_paths(), [self.cgroup.memory_procs_path()]
                )
            return self._peaks.read() or None
        if self._peak_fd < 0:
            if not self.pid:
                return None
            with contextlib.suppress(OSError):
                self._peak_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            if self._peak_fd < 0:
                return None
        try:
            data = os.pread(self._peak_fd, 4096, 0)
        except OSError:
            return None
        return memory_peak.hwm_bytes(data)

    def oom_killed(self) -> bool:
        return self.cgroup.oom_killed() if self.cgroup is not None else False

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        # Not started yet: the runtime (and a spare's keeper) see the hang-up and exit.
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        self._close_control()
        self.kill()
        child = self._child
        if child is not None:
            # Its init gone, so is every process of its PID namespace: the cgroup is then
            # (nearly) empty, and removing it costs no kill-and-retry rounds.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.exited), 5)
        if self.cgroup is not None:
            await asyncio.to_thread(self.cgroup.destroy)
        if child is not None and child.pidfd >= 0:
            os.close(child.pidfd)
            child.pidfd = -1
        loop = asyncio.get_running_loop()
        if self._nat is not None:
            await self._nat.aclose()
        if self.output_fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(self.output_fd)
            os.close(self.output_fd)
            self.output_fd = -1
        if self._sock is not None:
            self._sock.close()
        if self.namespace_factory is not None:
            self.namespace_factory.close()
            self.namespace_factory = None
        if self._peak_fd >= 0:
            os.close(self._peak_fd)
            self._peak_fd = -1
        if self._peaks is not None:
            self._peaks.close()
        if self.work is not None:
            await asyncio.to_thread(shutil.rmtree, self.work, True)
        disk, self.tmp_disk = self.tmp_disk, None
        if disk is not None:
            inner = self.backend.inner
            assert isinstance(inner, BwrapBackend)
            await inner.release_tmp_disk(disk)
        if self.uid is not None:
            # Every process of this uid went with its cgroup: the uid may serve again.
            inner = self.backend.inner
            assert isinstance(inner, BwrapBackend)
            inner.uids.release(self.uid)
            self.uid = None

    def discard(self) -> None:
        """Synchronously, for a spare never assigned (server shutdown): kill it and close
        what it holds (no cgroup, no uid, no work directory yet)."""
        self._destroyed = True
        for channel in (self._runtime, self._control):
            if channel is not None:
                channel.close()
        self._runtime = self._control = None
        self.kill()
        if self._nat is not None:
            self._nat.close()
        if self.output_fd >= 0:
            os.close(self.output_fd)
            self.output_fd = -1
        if self._sock is not None:
            self._sock.close()
        if self._child is not None and self._child.pidfd >= 0:
            os.close(self._child.pidfd)
            self._child.pidfd = -1
