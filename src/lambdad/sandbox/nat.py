"""User-space NAT for an environment's network namespace.

With network ``isolated``, ``Nat`` attaches a user-space NAT helper (slirp4netns, or
pasta) to the namespace: started off the event loop, waited for only before the
runtime runs (sandboxes attach it while their root is built, spares when parked).
The helper runs as root and parses what functions send, so its command line
confines it and it gets none of the server's environment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

from lambdad.sandbox.bwrap_plan import PRIVILEGED_ENV
from lambdad.sandbox.child import ChildWatch

log = logging.getLogger(__name__)
Popen = subprocess.Popen[bytes]

NAT_READY_TIMEOUT = 5.0


def nat_helper() -> str | None:
    """The user-space NAT program available here, if any."""
    for name in ("slirp4netns", "pasta"):
        path = shutil.which(name)
        if path:
            return path
    return None


def nat_argv(helper: str, pid: int, ready_fd: int, exit_fd: int) -> list[str]:
    """The command line of the NAT helper ``helper`` for the network namespace of ``pid``.

    slirp4netns: ``--disable-host-loopback`` (the gateway is not the host's loopback,
    where lambdad's API listens); it says it is ready on ``ready_fd`` and ends when
    ``exit_fd`` reaches end of file. It parses what the function sends, as root: once
    the tap device is open it confines itself (``--enable-sandbox``: an empty root,
    capabilities dropped; ``--enable-seccomp``: no exec, mount, ptrace, setns...),
    about 1-2 ms more before it is ready, off a cold start's critical path (without
    the sandbox where the host's resolv.conf lies outside /etc and /run).

    pasta: no port forwarded either way (its default forwards every port bound in the
    namespace from the host, and the host's loopback ports into the namespace), nor the
    gateway mapped to the host; it has neither fd.
    """
    if Path(helper).name == "pasta":
        argv = [helper, "--config-net", "--quiet", "--no-map-gw"]
        argv += ["-t", "none", "-u", "none", "-T", "none", "-U", "none"]
        return [*argv, "--netns", f"/proc/{pid}/ns/net"]
    argv = [helper, "--configure", "--mtu=65520", "--disable-host-loopback"]
    if _resolv_conf_in_sandbox():
        argv.append("--enable-sandbox")  # its new root keeps only /etc and /run
    argv.append("--enable-seccomp")
    return [*argv, f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}", str(pid), "tap0"]


# The helpers are started from these threads, not the event loop's: Popen's vfork()
# holds its caller until the helper's exec is done (a few milliseconds on a busy
# machine), which on the event loop is time no other environment or request gets.
_STARTER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="nat-start")


def _start_helper(argv: list[str], keep: tuple[int, ...], ours: tuple[int, ...]) -> Popen:
    try:
        return subprocess.Popen(
            argv,
            # It runs as root and parses what functions send: none of the server's
            # variables (credentials among them) and no loader settings.
            env=PRIVILEGED_ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=keep,
            start_new_session=True,
        )
    finally:
        for fd in ours:
            os.close(fd)


class Nat:
    """User-space NAT (slirp4netns or pasta) attached to one network namespace.

    The helper runs as a process of its own per environment, started in a thread of
    ``_STARTER`` and watched through a pidfd: ``ready`` is done once it says outbound
    networking is up, or once it has failed to start or exited before that (the
    environment then has no outbound access). slirp4netns would outlive the
    namespace's processes; it ends when its --exit-fd reaches EOF, i.e. when lambdad
    closes the other end or dies (a crash), so it never outlives the server.
    """

    def __init__(self, helper: str, pid: int) -> None:
        self.pid = pid
        self.process: Popen | None = None
        self._watch: ChildWatch | None = None
        self._closed = False
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        # pasta has neither fd: its ready pipe closes unwritten, which reads as ready.
        pasta = Path(helper).name == "pasta"
        keep = () if pasta else (ready_w, exit_r)
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self._ready_r = ready_r
        loop.add_reader(ready_r, self._on_ready)
        argv = nat_argv(helper, pid, ready_w, exit_r)
        self._started = loop.run_in_executor(_STARTER, _start_helper, argv, keep, (ready_w, exit_r))
        self._started.add_done_callback(self._on_started)

    def _on_started(self, started: asyncio.Future[Popen]) -> None:
        failure = "cancelled" if started.cancelled() else started.exception()
        if failure is not None:
            log.warning("no NAT for the namespace of process %d: %s", self.pid, failure)
            self._on_ready()
            return
        self.process = started.result()
        self._watch = ChildWatch(self.process)
        self._watch.exited.add_done_callback(lambda _: self._on_ready())
        if self._closed:
            self.close()

    def _on_ready(self) -> None:
        if self._ready_r >= 0:
            asyncio.get_running_loop().remove_reader(self._ready_r)
            os.close(self._ready_r)
            self._ready_r = -1
        if not self.ready.done():
            self.ready.set_result(None)

    async def wait_ready(self) -> None:
        """Outbound networking is up; cheap when already so. A helper that never says
        so within NAT_READY_TIMEOUT leaves the environment without outbound access."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(NAT_READY_TIMEOUT):
                await asyncio.shield(self.ready)

    def close(self) -> None:
        """Stop the helper now (idempotent; one still starting is stopped once it has);
        the pidfd watch reaps it."""
        self._closed = True
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def aclose(self) -> None:
        """Stop the helper and wait until it is reaped."""
        self.close()
        self._on_ready()
        with contextlib.suppress(Exception):
            await asyncio.shield(self._started)
        if self._watch is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._watch.wait()


@functools.cache
def _resolv_conf_in_sandbox() -> bool:
    """Whether slirp4netns's sandbox (a root of the host's /etc and /run) still sees the
    host's resolv.conf, which its DNS forwarder reads."""
    real = os.path.realpath("/etc/resolv.conf")
    return real.startswith(("/etc/", "/run/"))
