"""The ``bwrap`` backend: every environment in its own namespaces and cgroup.

Owns the sandbox's lifecycle: a uid and a cgroup per environment (memory, CPU and
process count held to what its configuration buys), bwrap started on the plan of
``sandbox/bwrap_plan.py`` (its root, command line and variables; the privilege
boundary is written down there), the Runtime API socket and NAT of its network
namespace, and ``destroy``.

Start-up is staged with bwrap's ``--info-fd`` / ``--block-fd``: once the
namespaces exist the sandbox is put in its cgroup and its Runtime API socket is
created inside its network namespace, and only then is the runtime let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from lambdad.errors import SandboxError
from lambdad.sandbox import bwrap_image, image_stage, memory_peak, nat, netns, seccomp
from lambdad.sandbox.base import SandboxSpec, WithoutSnapshots
from lambdad.sandbox.bwrap_plan import (
    FSTAB,
    PRIVILEGED_ENV,
    Tools,
    bwrap_argv,
    env_script,
    generated_files,
    overlay_fstab,
    rewrite,
)
from lambdad.sandbox.cgroups import CgroupManager, EnvironmentCgroup, Limits
from lambdad.sandbox.child import ChildWatch, from_wrapper_status
from lambdad.sandbox.tmpdisk import TmpDisk, TmpDisks
from lambdad.sandbox.uids import UidPool
from lambdad.store.trees import remove_quietly

log = logging.getLogger(__name__)

RUNTIME_API = "127.0.0.1:9001"
LINK_LOCAL = ("169.254.0.0/16",)
# Outbound TCP ports an isolated function cannot connect to, as on AWS (SMTP).
PROHIBITED_TCP_PORTS = (25,)
# Each environment's own uid (= gid) comes from this range (see sandbox/uids.py); it
# lies in the range systemd leaves to container uid ranges, clear of host accounts.
DEFAULT_UID_BASE = 0x60000000
DEFAULT_UID_COUNT = 65536


class BwrapBackend(WithoutSnapshots):
    name = "bwrap"

    def __init__(
        self,
        work_root: Path,
        cgroups: CgroupManager,
        *,
        network: str = "isolated",
        uids: UidPool | None = None,
        bwrap: str = "bwrap",
        tmp_disks: TmpDisks | None = None,
    ) -> None:
        self.work_root = work_root
        # Each environment's /tmp on a disk of its own (sandbox/tmpdisk.py); None: tmpfs.
        self.tmp_disks = tmp_disks
        self.cgroups = cgroups
        self.network = network
        self.uids = uids or UidPool(DEFAULT_UID_BASE, DEFAULT_UID_COUNT)
        self.seccomp = seccomp.program()
        if self.seccomp is None:
            log.warning(
                "no seccomp filter for %s: keyrings and user namespaces stay open",
                platform.machine(),
            )
        self.tools = Tools(
            bwrap=shutil.which(bwrap) or bwrap,
            setpriv=shutil.which("setpriv") or "/usr/bin/setpriv",
            unshare=shutil.which("unshare") or "/usr/bin/unshare",
        )
        self._host_programs: bwrap_image.HostPrograms | None = None
        self.nat = nat.nat_helper() if network == "isolated" else None
        if network == "isolated" and self.nat is None:
            log.warning(
                "no slirp4netns or pasta: network mode isolated runs without outbound access"
            )

    def host_programs(self) -> bwrap_image.HostPrograms:
        """What image sandboxes run their privileged stages with (found once)."""
        if self._host_programs is None:
            stage = image_stage.build(self.work_root.parent / "image-stage")
            self._host_programs = bwrap_image.host_programs(stage)
        return self._host_programs

    def describe(self) -> str:
        net = self.network
        if net == "isolated":
            net += f" via {Path(self.nat).name}" if self.nat else " (no NAT helper: no outbound)"
        elif net == "host":
            net += " — WARNING: functions share the host's network (development only)"
        tmp = "/tmp on disk" if self.tmp_disks is not None else "/tmp in memory (tmpfs)"
        return (
            f"bwrap (mount, pid, ipc, uts, net namespaces; cgroup {self.cgroups.version}: "
            f"memory, cpu, pids; uid per environment from {self.uids.base}; "
            f"seccomp {'on' if self.seccomp else 'off'}; network {net}; {tmp})"
        )

    def setup(self) -> None:
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.cgroups.setup()
        removed = self.cgroups.cleanup_leftovers()
        if removed:
            log.warning("removed %d cgroups left by an earlier run", removed)
        for leftover in self.work_root.iterdir():
            remove_quietly(leftover)
        if self.tmp_disks is not None and not self.tmp_disks.setup():
            self.tmp_disks = None

    def close(self) -> None:
        self.cgroups.teardown()
        if self.tmp_disks is not None:
            self.tmp_disks.close()
        remove_quietly(self.work_root)
        self.uids.close()

    async def tmp_disk(self, spec: SandboxSpec) -> TmpDisk | None:
        """A fresh disk for ``spec``'s /tmp (None: a tmpfs instead)."""
        if self.tmp_disks is None:
            return None
        return await self.tmp_disks.acquire(spec.tmp_mb)

    async def release_tmp_disk(self, disk: TmpDisk | None) -> None:
        """``disk`` unmounted and deleted, once its sandbox's processes are gone."""
        if disk is not None and self.tmp_disks is not None:
            await self.tmp_disks.release(disk)

    async def prepare(self, spec: SandboxSpec) -> BwrapSandbox:
        if spec.root_dir is not None and self._host_programs is None:
            # The first image sandbox finds the host's shell and builds the static stage
            # (a compiler run, once per data directory): off the loop.
            await asyncio.to_thread(self.host_programs)
        network = spec.network if spec.network in ("isolated", "none", "host") else self.network
        work = self.work_root / spec.env_id
        work.mkdir(parents=True, exist_ok=True)
        uid = self.uids.acquire()
        limits = Limits(spec.memory_mb * 1024 * 1024, spec.vcpus, spec.pids_limit)
        # cgroup file system writes can take milliseconds (v1 above all): off the loop.
        creating = asyncio.ensure_future(asyncio.to_thread(self._new_cgroup, spec.env_id, limits))
        try:
            cgroup = await asyncio.shield(creating)
        except BaseException:
            self.uids.release(uid)
            remove_quietly(work)
            with contextlib.suppress(BaseException):
                # Cancelled while the thread still works: remove what it makes.
                await asyncio.to_thread((await creating).destroy)
            raise
        sandbox = BwrapSandbox(self, spec, work, cgroup, network, uid)
        try:
            sandbox.tmp_disk = await self.tmp_disk(spec)
            await sandbox.launch()
        except BaseException:
            await sandbox.destroy()
            raise
        return sandbox

    def _new_cgroup(self, name: str, limits: Limits) -> EnvironmentCgroup:
        cgroup = self.cgroups.create(name, limits)
        # As on AWS, the init phase runs with boosted CPU; the memory-proportional cap
        # applies from the first invocation on (see end_init).
        cgroup.set_cpu(None)
        return cgroup


class BwrapSandbox:
    def __init__(
        self,
        backend: BwrapBackend,
        spec: SandboxSpec,
        work: Path,
        cgroup: EnvironmentCgroup,
        network: str,
        uid: int,
    ) -> None:
        self.backend = backend
        self.uid = uid
        self.spec = spec
        self.env_id = spec.env_id
        self.work = work
        self.cgroup = cgroup
        self._peaks = memory_peak.PeakReader(
            cgroup.memory_peak_paths(), [cgroup.memory_procs_path()]
        )
        self.network = network
        self.pid = 0
        self.child_pid = 0
        self.output_fd = -1
        self.runtime_api_address = RUNTIME_API
        self._sock: socket.socket | None = None
        self._block_w = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._nat: nat.Nat | None = None
        self._watch: ChildWatch | None = None
        self._destroyed = False
        self.tmp_disk: TmpDisk | None = None

    async def launch(self) -> None:
        env = {k: rewrite(self.spec, v) for k, v in self.spec.env.items()}
        if self.network == "host":
            # No private namespace: fall back to a loopback port of its own.
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.bind(("127.0.0.1", 0))
            self._sock.listen(16)
            self._sock.setblocking(False)
            self.runtime_api_address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api_address
        script = env_script(env)
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        out_r, out_w = os.pipe()
        self._block_w = block_w
        seccomp_fd = None
        if self.backend.seccomp is not None:
            seccomp_fd = _memfd("bwrap-seccomp", self.backend.seccomp)
        files = generated_files(self.network, self.uid, self.spec.memory_mb)
        if self.spec.root_dir is not None:
            layout = bwrap_image.root_layout(self.spec.root_dir)
            bwrap_image.check_layout(layout)
            files = bwrap_image.image_files(files, layout)
        data_fds = {dest: _memfd("bwrap-data", content) for dest, content in files.items()}
        tmp_disk = str(self.tmp_disk.mount_point) if self.tmp_disk is not None else None
        if self.spec.root_dir is not None:
            argv = bwrap_image.image_argv(
                self.backend.tools.bwrap,
                self.backend.host_programs(),
                self.spec,
                layout,
                self.network,
                (info_w, block_r, seccomp_fd),
                self.uid,
                data_fds,
                tmp_disk,
            )
        else:
            data_fds[FSTAB] = _memfd("bwrap-data", overlay_fstab(self.spec))
            argv = bwrap_argv(
                self.backend.tools,
                self.spec,
                self.network,
                info_w,
                block_r,
                self.uid,
                seccomp_fd,
                data_fds,
                tmp_disk,
            )
        # The options go through --args, not the command line: the sandbox's init is
        # this bwrap, and its /proc/1/cmdline is readable inside (host paths).
        extra_fds = (*data_fds.values(), *(() if seccomp_fd is None else (seccomp_fd,)))
        split = argv.index("--")
        args_fd = _memfd("bwrap-args", b"".join(os.fsencode(a) + b"\0" for a in argv[1:split]))
        env_fd = _memfd("runtime-env", script)
        try:
            # Popen returns once bwrap is exec'd (a millisecond); nothing here waits on it.
            self._proc = subprocess.Popen(  # noqa: ASYNC220
                [argv[0], "--args", str(args_fd), *argv[split:]],
                env=PRIVILEGED_ENV,
                stdin=env_fd,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(info_w, block_r, args_fd, *extra_fds),
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (info_r, out_r):
                os.close(fd)
            raise SandboxError(f"cannot start bwrap: {exc.strerror}") from exc
        finally:
            for fd in (info_w, block_r, out_w, args_fd, env_fd, *extra_fds):
                os.close(fd)
        self.pid = self._proc.pid
        os.set_blocking(out_r, False)
        self.output_fd = out_r
        self._watch = ChildWatch(self._proc, from_wrapper_status)
        try:
            info = await _read_json(info_r, self._watch.exited)
        except SandboxError as exc:
            raise SandboxError(f"{exc}: {_pending_output(out_r)}") from None
        finally:
            os.close(info_r)
        self.child_pid = int(str(info["child-pid"]))
        # Moving a process between cgroups waits for an RCU grace period (~10 ms on
        # v1 here): in a thread, so that other requests go on meanwhile.
        await asyncio.to_thread(self.cgroup.attach, self.child_pid)
        if self.network != "host":
            # Link-local addresses are the host's, not the internet: on a cloud VM,
            # 169.254.169.254 hands out the VM's own credentials.
            isolated = self.network == "isolated"
            self._sock = netns.listen_in_netns(
                self.child_pid,
                unreachable=LINK_LOCAL if isolated else (),
                prohibited_tcp_ports=PROHIBITED_TCP_PORTS if isolated else (),
            )
        if self.network == "isolated" and self.backend.nat:
            self._nat = nat.Nat(self.backend.nat, self.child_pid)

    async def network_ready(self) -> None:
        """Outbound networking is up (NAT attached); cheap when already so."""
        if self._nat is not None:
            await self._nat.wait_ready()

    def end_init(self) -> None:
        self.cgroup.set_cpu(self.spec.vcpus)

    def runtime_api_socket(self) -> socket.socket:
        assert self._sock is not None
        return self._sock

    def tmp_path(self) -> Path | None:
        return None

    async def run(self) -> None:
        if self._destroyed or self._block_w < 0:
            raise SandboxError(f"sandbox {self.env_id} cannot run")
        os.write(self._block_w, b"1")
        os.close(self._block_w)
        self._block_w = -1

    async def wait(self) -> int:
        if self._watch is None:
            raise SandboxError(f"sandbox {self.env_id} was never started")
        return await self._watch.wait()

    def exited_now(self) -> bool:
        return self._watch is not None and self._watch.exited_now()

    def kill(self) -> None:
        if self._watch is not None:
            self._watch.kill_group()

    def memory_peak_bytes(self) -> int | None:
        return self._peaks.read() or None

    def oom_killed(self) -> bool:
        return self.cgroup.oom_killed()

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        self._peaks.close()
        if self._block_w >= 0:
            os.close(self._block_w)
            self._block_w = -1
        self.kill()
        await asyncio.to_thread(self.cgroup.destroy)
        if self._watch is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._watch.wait()
            self._watch.close()
        loop = asyncio.get_running_loop()
        if self._nat is not None:
            await self._nat.aclose()
        if self.output_fd >= 0:
            loop.remove_reader(self.output_fd)
            os.close(self.output_fd)
            self.output_fd = -1
        if self._sock is not None:
            self._sock.close()
        await asyncio.to_thread(remove_quietly, self.work)
        disk, self.tmp_disk = self.tmp_disk, None
        await self.backend.release_tmp_disk(disk)
        # Every process of this uid is gone with its cgroup: the uid may serve again.
        self.backend.uids.release(self.uid)


async def _read_json(fd: int, exited: asyncio.Future[int]) -> dict[str, object]:
    """bwrap's --info-fd document, or an error if bwrap dies first."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        buf.extend(chunk)
        if not chunk or buf.rstrip().endswith(b"}"):
            loop.remove_reader(fd)
            if not done.done():
                done.set_result(None)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        waiting: set[asyncio.Future[Any]] = {done, exited}
        await asyncio.wait(waiting, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(fd)
    if not buf.rstrip().endswith(b"}"):
        raise SandboxError("bwrap failed to create the sandbox")
    doc: dict[str, object] = json.loads(bytes(buf))
    return doc


def _memfd(name: str, content: bytes) -> int:
    """A descriptor to read ``content`` from, at its start (closed on exec unless
    passed)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _pending_output(fd: int) -> str:
    """What bwrap said before failing (its errors go to the environment's output)."""
    try:
        return os.read(fd, 4096).decode("utf-8", "replace").strip() or "no error message"
    except OSError:
        return "no error message"
