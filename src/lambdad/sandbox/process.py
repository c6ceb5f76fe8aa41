"""The ``process`` backend: plain child processes, no isolation.

Each environment gets its own session (so its whole process tree can be killed),
its own scratch directory as ``TMPDIR``, and a Runtime API socket on a loopback
port of its own. Children are reaped through a pidfd on the event loop: no thread
per child. Use it where bwrap cannot run, or for development.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
from pathlib import Path

from lambdad.errors import SandboxError
from lambdad.sandbox.base import SandboxSpec, WithoutSnapshots
from lambdad.sandbox.child import ChildWatch
from lambdad.store.trees import remove_quietly


class ProcessBackend(WithoutSnapshots):
    name = "process"

    def __init__(self, work_root: Path) -> None:
        self.work_root = work_root

    def describe(self) -> str:
        return (
            "process — WARNING: functions run as plain child processes with no sandbox; "
            "do not run untrusted code (see `lambdad doctor`)"
        )

    def close(self) -> None:
        remove_quietly(self.work_root)

    async def prepare(self, spec: SandboxSpec) -> ProcessSandbox:
        if spec.root_dir is not None:
            raise SandboxError("container images run in the bwrap sandbox only")
        work = self.work_root / spec.env_id
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        return ProcessSandbox(spec, work, sock)


class ProcessSandbox:
    def __init__(self, spec: SandboxSpec, work: Path, sock: socket.socket) -> None:
        self.spec = spec
        self.env_id = spec.env_id
        self.work = work
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.runtime_api_address = f"{host}:{port}"
        self.pid = 0
        self.output_fd = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._watch: ChildWatch | None = None
        self._destroyed = False

    def runtime_api_socket(self) -> socket.socket:
        return self._sock

    def tmp_path(self) -> Path | None:
        return self.work / "tmp"

    async def run(self) -> None:
        if self._destroyed:
            raise SandboxError(f"sandbox {self.env_id} is destroyed")
        env = dict(self.spec.env)
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api_address
        env["TMPDIR"] = str(self.work / "tmp")
        argv = [a.replace("{task}", str(self.spec.task_dir)) for a in self.spec.argv]
        read_fd, write_fd = os.pipe()
        try:
            # Popen returns once the runtime is exec'd; nothing here waits on it.
            self._proc = subprocess.Popen(  # noqa: ASYNC220
                argv,
                cwd=self.spec.task_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            os.close(read_fd)
            raise SandboxError(f"cannot start {argv[0]}: {exc.strerror}") from exc
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.output_fd = read_fd
        self.pid = self._proc.pid
        self._watch = ChildWatch(self._proc)

    async def network_ready(self) -> None:
        return None

    def end_init(self) -> None:
        return None

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
        if not self.pid:
            return None
        try:
            with open(f"/proc/{self.pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            return None
        return None

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        self.kill()
        if self._watch is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._watch.wait()
            self._watch.close()
        if self.output_fd >= 0:
            with contextlib.suppress(OSError):
                asyncio.get_running_loop().remove_reader(self.output_fd)
            os.close(self.output_fd)
            self.output_fd = -1
        self._sock.close()
        await asyncio.to_thread(remove_quietly, self.work)
