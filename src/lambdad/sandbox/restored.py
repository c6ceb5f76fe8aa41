"""An environment restored from a SnapStart template: the ``Sandbox`` a restore hands out.

The template (``ZygoteBackend.prepare_template``) is a sandbox whose runtime has run
the function's init and then waits on its restore channel; each restore is one
request there, with a request socket, the output pipe and (sandboxed) descriptors of
the environment's cgroups. The template forks the restored environment
(``runtimes/python/snapstart.py``): a waiter that reports its exit status, a keeper
(pid 1 of the environment's own PID namespace), and the runtime.

The platform does here what it does for any forked sandbox: the environment's cgroup,
the Runtime API socket inside its network namespace (the keeper's pid comes with its
message, as the kernel's credentials of the sender), the NAT, and a uid of its own
from the pool: in the environment's user namespace, the template's uid stands for it
(the platform writes the map), so files and ``getuid()`` read as in the template,
while on the host each restored environment is a user of its own.

That user namespace is not the template's to create (no process that ran the
function's code may): the template's namespace factory makes it, in a holder process
(``snapstart.py``), while the template forks the environment; the platform writes its
maps and sends a descriptor of it to the waiter, which joins it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from typing import Any

from lambdad.errors import SandboxError
from lambdad.sandbox import nat, netns, zygote_wire
from lambdad.sandbox.base import Restorer, Sandbox, SandboxSpec
from lambdad.sandbox.bwrap import LINK_LOCAL, PROHIBITED_TCP_PORTS, BwrapBackend
from lambdad.sandbox.process import ProcessBackend
from lambdad.sandbox.zygote_channel import (
    receive_message,
    receive_with_sender,
    send_when_writable,
)
from lambdad.sandbox.zygote_process import Child, ZygoteProcess
from lambdad.sandbox.zygote_sandbox import ZygoteHost, ZygoteSandbox


class UserNamespacesRefused(SandboxError):
    """The host refuses user namespaces to unprivileged processes: the template's
    namespace factory (which runs none of the function's code, so the function cannot
    fake this) could not make one."""


class RestoredSandbox(ZygoteSandbox):
    def __init__(
        self,
        backend: ZygoteHost,
        zygote: ZygoteProcess,
        network: str,
        channel: socket.socket,
        proc_plan: list[Any],
        template_uid: int | None,
        factory: socket.socket | None,
    ) -> None:
        super().__init__(backend, zygote, network)
        self._template = channel
        self._factory = factory  # the template's namespace factory (sandboxed)
        self._proc_plan = proc_plan
        self._template_uid = template_uid
        self._reader: asyncio.Task[None] | None = None

    async def restore(self, spec: SandboxSpec) -> None:
        """Have the template fork an environment for ``spec`` and finish its sandbox."""
        self._take(spec)
        inner = self.backend.inner
        joins: list[int] = []
        request: dict[str, Any] = {"op": "restore", "network": self.network}
        if isinstance(inner, BwrapBackend):
            # A host uid of its own, which the template's uid stands for in its namespace,
            # and a cgroup boosted during the restore as during an init.
            self._own_cgroup_and_uid(inner, spec)
            assert self.cgroup is not None
            request.update(
                tmp_options=f"mode=1777,size={spec.tmp_mb * 1024 * 1024}",
                proc_plan=self._proc_plan,
                hostname="localhost",
            )
            # Its /tmp disk goes with its user namespace, to the waiter: never through
            # the template, whose runtime ran the function's init.
            self.tmp_disk = await inner.tmp_disk(spec)
            if inner.seccomp:
                request["seccomp"] = zygote_wire.b64(inner.seccomp)
        else:
            assert isinstance(inner, ProcessBackend)
            self.work = inner.work_root / spec.env_id
            (self.work / "tmp").mkdir(parents=True, exist_ok=True)
        if self.network == "host":
            self._listen_on_host()
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        self.output_fd = out_r
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except BaseException:
            os.close(out_w)
            raise
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ours.setblocking(False)
        self._control = ours
        # Its user namespace is made while the template forks the environment.
        userns = None
        if isinstance(inner, BwrapBackend):
            userns = asyncio.get_running_loop().create_task(self._user_namespace())
        try:
            try:
                if self.cgroup is not None and isinstance(inner, BwrapBackend):
                    joins = self.cgroup.open_joins()
                await send_when_writable(self._template, request, [theirs.fileno(), out_w, *joins])
            except OSError as exc:
                raise SandboxError(f"the snapshot's template is gone: {exc}") from exc
            finally:
                theirs.close()
                os.close(out_w)
                for fd in joins:
                    os.close(fd)
            if userns is not None:
                task, userns = userns, None
                fd = await task
                fds = [fd]
                message = {"userns": True}
                try:
                    if self.tmp_disk is not None:
                        fds.append(self.tmp_disk.mount_fd())
                        message["tmp_mount"] = True
                    await send_when_writable(ours, message, fds)
                finally:
                    for each in fds:
                        os.close(each)
            await self._await_restored(ours)
            ours.send(zygote_wire.encode(self._runtime_message(spec)))
        except OSError as exc:
            raise SandboxError(f"cannot restore the snapshot: {exc}") from exc
        finally:
            if userns is not None:  # the template could not be asked: not sent
                await _discard(userns)

    async def _user_namespace(self) -> int:
        """A new user namespace from the template's factory, where the template's ids
        stand for this environment's: a descriptor of it."""
        factory = self._factory
        if factory is None:
            raise SandboxError("the snapshot's template has no namespace factory")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The holder exits when this socket closes, its namespace kept by the descriptor.
        with ours:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            ours.setblocking(False)
            try:
                await send_when_writable(factory, {"op": "userns"}, [theirs.fileno()])
            except OSError as exc:
                raise SandboxError(f"the snapshot's namespace factory is gone: {exc}") from exc
            finally:
                theirs.close()
            doc, pid, fds = await receive_message(ours)
            if doc is None or not doc.get("userns") or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                reason = (doc or {}).get("error") or "the namespace factory answered nothing"
                if reason.startswith("unshare") and "not permitted" in reason:
                    raise UserNamespacesRefused(f"cannot restore the snapshot: {reason}")
                raise SandboxError(f"cannot restore the snapshot: {reason}")
            try:
                self._map_ids(pid)
            except BaseException:
                os.close(fds[0])
                raise
            return fds[0]

    async def _await_restored(self, control: socket.socket) -> None:
        """The keeper's "netns" (its pid in the credentials: the Runtime API socket and the
        NAT go into its namespace) and "ok"; over ``process``, the runtime's "ok"."""
        while True:
            doc, pid = await receive_with_sender(control)
            if doc is None or "error" in doc or "exit" in doc:
                reason = (doc or {}).get("error") or "the restored environment exited"
                raise SandboxError(f"cannot restore the snapshot: {reason}")
            if doc.get("unshared"):
                # The waiter's network namespace exists (the keeper will be in it): the
                # NAT starts now, while the rest is built, not once the keeper says so.
                helper = getattr(self.backend.inner, "nat", None)
                if self.network == "isolated" and helper:
                    self._nat = nat.Nat(helper, pid)
                continue
            if not self.pid:
                self._adopt(pid)
            if doc.get("netns"):
                isolated = self.network == "isolated"
                self._sock = netns.listen_in_netns(
                    self.pid,
                    unreachable=LINK_LOCAL if isolated else (),
                    prohibited_tcp_ports=PROHIBITED_TCP_PORTS if isolated else (),
                )
                if self._nat is None:
                    self._start_nat_if_isolated()
            elif doc.get("ok"):
                break
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read_exit())

    def _map_ids(self, pid: int) -> None:
        """In ``pid``'s (a holder's) user namespace, the template's uid and gid stand for this
        environment's own; the template's host ids appear as the next ones (so that the
        keeper, privileged there until the runtime starts, can copy the template's
        /tmp however the init left its modes)."""
        inside = self._template_uid
        if pid <= 0 or inside is None or self.uid is None:
            raise SandboxError("cannot map the restored environment's ids")
        mapping = f"{inside} {self.uid} 1\n{inside + 1} {inside} 1\n".encode()
        for name in ("uid_map", "gid_map"):
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, mapping)  # one write, as the kernel requires
            finally:
                os.close(fd)

    def _adopt(self, pid: int) -> None:
        """The environment's init (or, over ``process``, its runtime) is ``pid``."""
        self.pid = pid
        exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._child = Child(pid, os.pidfd_open(pid), exited)

    async def _read_exit(self) -> None:
        """The waiter's ``{"exit": status}`` (an end of file: killed with its cgroup)."""
        status = int(signal.SIGKILL)  # as a wait status: killed by SIGKILL
        try:
            while self._control is not None:
                doc, _ = await receive_with_sender(self._control, timeout=None)
                if doc is None:
                    break
                if "exit" in doc:
                    status = int(doc["exit"])
                    break
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            child = self._child
            if child is not None and not child.exited.done():
                child.exited.set_result(status)

    async def run(self) -> None:
        control = self._control
        if self._destroyed or control is None:
            raise SandboxError(f"sandbox {self.env_id} cannot run")
        try:
            control.send(zygote_wire.encode({"go": True}))
        except OSError as exc:
            raise SandboxError(f"sandbox {self.env_id} is gone: {exc}") from exc

    async def destroy(self) -> None:
        child = self._child
        if not self._destroyed and child is not None and not child.exited.done():
            # Killed, and its exit reported by the waiter (its PID namespace empty by
            # then), before the request socket that report comes on is closed.
            self.kill()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.exited), 5)
        # The exit reader then: it lets go of the request socket that destroy closes.
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await super().destroy()


def restorer(backend: ZygoteHost, template: ZygoteSandbox, channel: socket.socket) -> Restorer:
    """How environments are restored from ``template`` (a sandbox ``launch``ed with a
    template channel) over ``channel``, the platform's end of it. The template's
    attributes are read at each restore, as they stand then."""

    async def restore(spec: SandboxSpec) -> Sandbox:
        sandbox = RestoredSandbox(
            backend,
            template.zygote,
            template.network,
            channel,
            template.template_proc_plan,
            template.uid,
            template.namespace_factory,
        )
        try:
            await sandbox.restore(spec)
        except BaseException:
            await sandbox.destroy()
            raise
        return sandbox

    return restore


async def _discard(userns: asyncio.Task[int]) -> None:
    """A user namespace being made that no environment will join: closed."""
    userns.cancel()
    with contextlib.suppress(BaseException):
        os.close(await userns)
