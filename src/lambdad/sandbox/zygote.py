"""The fast path: Python environments forked from a zygote instead of exec'd.

``ZygoteBackend`` wraps the backend ``select.choose_backend`` picked. For a Python
runtime it forks the environment from a zygote that has already imported the runtime
bootstrap (``runtimes/python/zygote.py``); everything else (Node.js, ``provided``, a
function whose variables the interpreter reads at start-up, an interpreter the zygote
cannot run on) goes to the wrapped backend unchanged.

Over ``bwrap`` the isolation is the same, built by the zygote's child instead of by
bwrap and setpriv (see ``rootfs.py`` for the file system): mount, PID, IPC, UTS, cgroup
and network namespaces, the environment's cgroup joined before anything else runs, the
Runtime API socket created inside the network namespace, the sandbox uid with no
capabilities and ``no_new_privs``, and the same NAT. Over ``process`` it is a fork with
the environment's own ``TMPDIR`` and session.

One zygote per (interpreter, sandboxed or not, tenant), started on first use and again
after it dies. Per tenant because every child inherits its zygote's memory, including
CPython's string-hash secret, which a function can read: two accounts never share one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from lambdad.config import Settings
from lambdad.errors import SandboxError
from lambdad.runtimes.table import PYTHON_BOOTSTRAP
from lambdad.sandbox import netns, rootfs, zygote_wire
from lambdad.sandbox.base import Sandbox, SandboxBackend, SandboxSpec
from lambdad.sandbox.bwrap import (
    LINK_LOCAL,
    RUNTIME,
    RUNTIME_API,
    SANDBOX_USER,
    TASK,
    BwrapBackend,
)
from lambdad.sandbox.cgroups import EnvironmentCgroup, Limits
from lambdad.sandbox.process import ProcessBackend
from lambdad.sandbox.zygote_process import Child, ZygoteProcess

log = logging.getLogger(__name__)

SHOWN_BOOTSTRAP = f"{RUNTIME}/python/{PYTHON_BOOTSTRAP.name}"
SETUP_TIMEOUT = 10.0

ZygoteKey = tuple[str, bool, str]  # interpreter, sandboxed, tenant


def with_fast_path(settings: Settings, backend: SandboxBackend) -> SandboxBackend:
    """``backend``, wrapped in the zygote fast path unless the settings turn it off."""
    return ZygoteBackend(backend) if settings.fast_path else backend


class ZygoteBackend:
    def __init__(self, inner: SandboxBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self._zygotes: dict[ZygoteKey, ZygoteProcess] = {}
        self._locks: dict[ZygoteKey, asyncio.Lock] = {}
        self._broken: dict[str, str] = {}  # interpreter -> why its zygote cannot run
        self._host: rootfs.HostLayout | None = None

    @property
    def sandboxed(self) -> bool:
        return isinstance(self.inner, BwrapBackend)

    def describe(self) -> str:
        return f"{self.inner.describe()}; Python environments forked from a zygote"

    def close(self) -> None:
        for zygote in self._zygotes.values():
            zygote.stop_now()
        self._zygotes.clear()
        self.inner.close()

    def refusal(self, spec: SandboxSpec) -> str | None:
        """Why ``spec`` goes to the wrapped backend (None: it is forked)."""
        if not isinstance(self.inner, BwrapBackend | ProcessBackend):
            return f"no zygote over the {self.inner.name} backend"
        if len(spec.argv) != 2 or spec.argv[1] != str(PYTHON_BOOTSTRAP):
            return "not the Python runtime"
        if spec.argv[0] in self._broken:
            return self._broken[spec.argv[0]]
        return zygote_wire.refusal(spec.env)

    async def prepare(self, spec: SandboxSpec) -> Sandbox:
        why = self.refusal(spec)
        if why is not None:
            log.debug("environment %s exec'd: %s", spec.env_id, why)
            return await self.inner.prepare(spec)
        for attempt in (0, 1):
            try:
                zygote = await self._zygote(spec)
            except SandboxError as exc:
                # Not for this interpreter, then: exec'd from now on, said once.
                self._broken[spec.argv[0]] = str(exc)
                log.warning("no zygote on %s (environments exec'd): %s", spec.argv[0], exc)
                return await self.inner.prepare(spec)
            sandbox = ZygoteSandbox(self, zygote, spec)
            try:
                await sandbox.launch()
            except ZygoteGone:
                await sandbox.destroy()
                if attempt:
                    raise
                continue  # it died under us: start a new one, once
            except BaseException:
                await sandbox.destroy()
                raise
            return sandbox
        raise AssertionError("unreachable")

    async def _zygote(self, spec: SandboxSpec) -> ZygoteProcess:
        key = (spec.argv[0], self.sandboxed, _tenant(spec))
        zygote = self._zygotes.get(key)
        if zygote is not None and zygote.alive:
            return zygote
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.alive:
                return zygote
            shown = SHOWN_BOOTSTRAP if self.sandboxed else str(PYTHON_BOOTSTRAP)
            zygote = ZygoteProcess(spec.argv[0], PYTHON_BOOTSTRAP, shown)
            await zygote.start()
            if zygote.python < (3, 9):
                await zygote.stop()
                raise SandboxError(f"Python {zygote.python} is older than 3.9")
            self._zygotes[key] = zygote
            log.info("zygote %d started on %s", zygote.pid, spec.argv[0])
            return zygote

    # -- what sandboxed children need ----------------------------------------------------

    def host_layout(self) -> rootfs.HostLayout:
        if self._host is None:
            self._host = rootfs.probe_host()
        return self._host

    def etc_files(self, network: str, uid: int) -> dict[str, str]:
        """The generated /etc files of an environment (passwd and group name its uid)."""
        host_resolv = ""
        if network == "host" and Path("/etc/resolv.conf").exists():
            host_resolv = Path("/etc/resolv.conf").read_text()
        return rootfs.etc_files(uid, uid, SANDBOX_USER, network, host_resolv)


class ZygoteGone(SandboxError):
    """The zygote died while forking an environment."""


class ZygoteSandbox:
    def __init__(self, backend: ZygoteBackend, zygote: ZygoteProcess, spec: SandboxSpec) -> None:
        self.backend = backend
        self.zygote = zygote
        self.spec = spec
        self.env_id = spec.env_id
        self.sandboxed = backend.sandboxed
        self.pid = 0
        self.output_fd = -1
        self.runtime_api_address = RUNTIME_API
        inner = backend.inner
        self.network = "host"
        self.cgroup: EnvironmentCgroup | None = None
        self.uid: int | None = None
        self.work: Path | None = None
        if isinstance(inner, BwrapBackend):
            self.network = (
                spec.network if spec.network in ("isolated", "none", "host") else (inner.network)
            )
        else:
            assert isinstance(inner, ProcessBackend)
            self.work = inner.work_root / spec.env_id
        self._sock: socket.socket | None = None
        self._control: socket.socket | None = None
        self._child: Child | None = None
        self._nat: subprocess.Popen[bytes] | None = None
        self._nat_exit_w = -1
        self._nat_ready: asyncio.Future[None] | None = None
        self._peak_fd = -1
        self._destroyed = False

    # -- start-up ------------------------------------------------------------------------

    async def launch(self) -> None:
        spec = self.spec
        inner = self.backend.inner
        if self.network == "host":
            # No namespace of its own: a loopback port of its own instead.
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.bind(("127.0.0.1", 0))
            self._sock.listen(16)
            self._sock.setblocking(False)
            self.runtime_api_address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        if isinstance(inner, BwrapBackend):
            # Its own uid, as bwrap's sandboxes (released once its cgroup is empty).
            self.uid = uid = inner.uids.acquire()
            self.cgroup = inner.cgroups.create(
                spec.env_id, Limits(spec.memory_mb * 1024 * 1024, spec.vcpus, spec.pids_limit)
            )
            # Boosted CPU during init, as bwrap's sandboxes (capped again by end_init).
            self.cgroup.set_cpu(None)
            etc = self.backend.etc_files(self.network, uid)
            request = zygote_wire.spawn_request(
                "",
                sandboxed=True,
                cwd=TASK,
                plan=rootfs.plan_root(spec, self.backend.host_layout(), etc),
                uid=uid,
                gid=uid,
                network=self.network,
                cgroup_join=_join_files(self.cgroup),
                seccomp=inner.seccomp,
            )
            env = {k: inner.rewrite(spec, v) for k, v in spec.env.items()}
            argv = [inner.rewrite(spec, a) for a in spec.argv[1:]]
        else:
            assert self.work is not None
            (self.work / "tmp").mkdir(parents=True, exist_ok=True)
            request = zygote_wire.spawn_request("", sandboxed=False, cwd=str(spec.task_dir))
            env = dict(spec.env)
            env["TMPDIR"] = str(self.work / "tmp")
            argv = [a.replace("{task}", str(spec.task_dir)) for a in spec.argv[1:]]
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api_address

        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        self.output_fd = out_r
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self._control = ours
        try:
            self._child = await self.zygote.spawn(request, [theirs.fileno(), out_w])
        except SandboxError as exc:
            if not self.zygote.alive:
                raise ZygoteGone(str(exc)) from exc
            raise
        finally:
            theirs.close()
            os.close(out_w)
        self.pid = self._child.pid
        if self.sandboxed:
            await self._await_sandbox(ours)
        ours.send(zygote_wire.encode(zygote_wire.runtime_message(env, argv)))

    async def _await_sandbox(self, control: socket.socket) -> None:
        """Wait for the keeper to build the sandbox; meanwhile, once its network
        namespace exists, make the Runtime API socket there and attach the NAT."""
        listening: asyncio.Future[socket.socket] | None = None
        try:
            while True:
                doc = await _receive(control)
                if doc is not None and doc.get("netns"):
                    # As for bwrap's sandboxes: link-local addresses (the cloud's metadata
                    # service) unreachable, the Runtime API socket made inside it.
                    blocked = LINK_LOCAL if self.network == "isolated" else ()
                    listening = asyncio.ensure_future(
                        asyncio.to_thread(netns.listen_in_netns, self.pid, unreachable=blocked)
                    )
                    nat = getattr(self.backend.inner, "nat", None)
                    if self.network == "isolated" and nat:
                        self._start_nat(nat)
                elif doc is None or not doc.get("ok"):
                    reason = doc.get("error") if doc else "the sandbox's init exited"
                    raise SandboxError(f"cannot create the sandbox: {reason}")
                else:
                    break
        except BaseException:
            if listening is not None:
                # The socket, if made, is this sandbox's to close (destroy() does).
                made = (await asyncio.gather(listening, return_exceptions=True))[0]
                if isinstance(made, socket.socket):
                    self._sock = made
            raise
        if listening is not None:
            self._sock = await listening

    def _start_nat(self, helper: str) -> None:
        """Outbound network through user-space NAT, as bwrap's sandboxes have it."""
        ready_r, ready_w = os.pipe()
        if Path(helper).name == "pasta":
            argv = [
                helper,
                "--config-net",
                "--quiet",
                "--no-map-gw",
                "--netns",
                f"/proc/{self.pid}/ns/net",
            ]
            os.close(ready_w)
            ready_w = -1
            pass_fds: tuple[int, ...] = ()
        else:
            # slirp4netns ends when --exit-fd reaches EOF (lambdad closes it, or dies).
            exit_r, self._nat_exit_w = os.pipe()
            argv = [
                helper,
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                f"--ready-fd={ready_w}",
                f"--exit-fd={exit_r}",
                str(self.pid),
                "tap0",
            ]
            pass_fds = (ready_w, exit_r)
        try:
            self._nat = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=pass_fds,
                start_new_session=True,
            )
        finally:
            for fd in pass_fds:
                os.close(fd)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._nat_ready = ready

        def on_ready() -> None:
            loop.remove_reader(ready_r)
            with contextlib.suppress(OSError):
                os.read(ready_r, 16)
            os.close(ready_r)
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(ready_r, on_ready)

    # -- the Sandbox protocol ------------------------------------------------------------

    def runtime_api_socket(self) -> socket.socket:
        assert self._sock is not None
        return self._sock

    def tmp_path(self) -> Path | None:
        return self.work / "tmp" if self.work is not None else None

    async def run(self) -> None:
        control = self._control
        if self._destroyed or control is None:
            raise SandboxError(f"sandbox {self.env_id} cannot run")
        self._control = None
        try:
            control.send(zygote_wire.encode({"go": True}))
        except OSError as exc:
            raise SandboxError(f"sandbox {self.env_id} is gone: {exc}") from exc
        finally:
            control.close()

    async def network_ready(self) -> None:
        if self._nat_ready is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._nat_ready), 5)

    def end_init(self) -> None:
        if self.cgroup is not None:
            self.cgroup.set_cpu(self.spec.vcpus)

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
        # Read after every invocation (REPORT's Max Memory Used): one pread() of a file
        # kept open, not a path walk and open per invoke.
        if self._peak_fd < 0:
            self._peak_fd = self._open_peak()
            if self._peak_fd < 0:
                return None
        try:
            data = os.pread(self._peak_fd, 4096, 0)
        except OSError:
            return None
        if self.cgroup is not None:
            return int(data.split()[0]) if data.strip() else None
        start = data.find(b"VmHWM:")
        return int(data[start + 6 :].split()[0]) * 1024 if start >= 0 else None

    def _open_peak(self) -> int:
        cgroup = self.cgroup
        if cgroup is not None:
            mem = cgroup._dir("memory")
            names = ["memory.max_usage_in_bytes"]
            if cgroup.manager.version == "v2":
                names = ["memory.peak", "memory.current"]
            paths = [mem / name for name in names]
        elif self.pid:
            paths = [Path(f"/proc/{self.pid}/status")]
        else:
            return -1
        for path in paths:
            with contextlib.suppress(OSError):
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return -1

    def oom_killed(self) -> bool:
        return self.cgroup.oom_killed() if self.cgroup is not None else False

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        if self._control is not None:
            # Not started yet: the runtime sees the hang-up and exits.
            self._control.close()
            self._control = None
        self.kill()
        if self.cgroup is not None:
            await asyncio.to_thread(self.cgroup.destroy)
        child = self._child
        if child is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.exited), 5)
            os.close(child.pidfd)
            child.pidfd = -1
        loop = asyncio.get_running_loop()
        if self._nat_exit_w >= 0:
            os.close(self._nat_exit_w)
            self._nat_exit_w = -1
        if self._nat is not None:
            self._nat.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self._nat.wait, 5)
        if self.output_fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(self.output_fd)
            os.close(self.output_fd)
            self.output_fd = -1
        if self._sock is not None:
            self._sock.close()
        if self._peak_fd >= 0:
            os.close(self._peak_fd)
            self._peak_fd = -1
        if self.work is not None:
            await asyncio.to_thread(shutil.rmtree, self.work, True)
        if self.uid is not None:
            # Every process of this uid went with its cgroup: the uid may serve again.
            inner = self.backend.inner
            assert isinstance(inner, BwrapBackend)
            inner.uids.release(self.uid)
            self.uid = None


async def _receive(sock: socket.socket) -> dict[str, Any] | None:
    """One message from a request socket (None when the other end closed)."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(sock.fileno(), ready)
    try:
        await asyncio.wait_for(readable, SETUP_TIMEOUT)
    except TimeoutError:
        raise SandboxError(f"the sandbox was not ready within {SETUP_TIMEOUT:.0f} s") from None
    finally:
        loop.remove_reader(sock.fileno())
    data = sock.recv(65536)
    if not data:
        return None
    doc: dict[str, Any] = json.loads(data)
    return doc


def _join_files(cgroup: EnvironmentCgroup) -> list[str]:
    """What the keeper writes "0" to, to move itself into ``cgroup``: on v1, each
    hierarchy's ``tasks`` (a thread moving itself there skips the lock a whole-process
    move takes, which waits for an RCU grace period); on v2, ``cgroup.procs``."""
    name = "cgroup.procs" if cgroup.manager.version == "v2" else "tasks"
    return [str(d / name) for d in cgroup.dirs]


def _tenant(spec: SandboxSpec) -> str:
    return str(getattr(spec, "tenant", ""))
