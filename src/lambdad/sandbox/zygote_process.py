"""One running zygote, as the platform's event loop sees it.

``ZygoteProcess.start()`` launches ``runtimes/python/zygote.py`` on an interpreter with
a clean environment and waits until it has imported the bootstrap; ``spawn()`` sends a
request (with its descriptors) and returns the new child's host pid, a pidfd, and a
future for its wait status. Replies and exit reports arrive on one ``SOCK_SEQPACKET``
socket, read by the event loop: no thread per zygote or per environment.

If the zygote dies, every child it forked dies with it (they have ``PDEATHSIG``); their
exits are reported as ``SIGKILL`` and the next ``spawn()`` fails, so that the backend
starts a new zygote.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdad.errors import SandboxError
from lambdad.sandbox import zygote_wire

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
# Starts a sandboxed zygote from /var/lang (next to zygote.py).
LANG_LAUNCHER = "lang_root.py"
REPLY_TIMEOUT = 60.0
_MAX_MESSAGE = 256 * 1024
_ids = itertools.count(1)


@dataclass(slots=True)
class Child:
    pid: int
    pidfd: int
    exited: asyncio.Future[int]  # the raw wait status


class ZygoteProcess:
    def __init__(
        self,
        interpreter: str,
        bootstrap: Path,
        shown_as: str,
        *,
        env: Mapping[str, str] | None = None,
        lang: tuple[str, str] | None = None,
    ) -> None:
        self.interpreter = interpreter
        # (host prefix, interpreter inside): start it from /var/lang (sandboxed zygotes).
        self.lang = lang
        self.bootstrap = bootstrap
        self.shown_as = shown_as
        self.env = dict(env if env is not None else zygote_wire.ZYGOTE_ENV)
        self.pid = 0
        self.python: tuple[int, ...] = ()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._ready: asyncio.Future[None] | None = None
        self._replies: dict[str, asyncio.Future[tuple[int, int]]] = {}
        self._exits: dict[str, asyncio.Future[int]] = {}
        self._dead = False
        self._send_lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._sock is not None and not self._dead

    async def start(self) -> None:
        argv0 = self.lang[1] if self.lang is not None else self.interpreter
        argv = zygote_wire.zygote_argv(argv0, self.shown_as)
        if argv is None:
            raise SandboxError(f"cannot start a zygote showing {self.shown_as!r}")
        if self.lang is not None:
            launcher = self.bootstrap.parent / LANG_LAUNCHER
            argv = [self.interpreter, "-I", "-S", str(launcher), self.lang[0], self.interpreter]
            argv += zygote_wire.zygote_argv(argv0, self.shown_as) or []
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # Popen returns once the interpreter is exec'd; the wait for "ready" is async.
            self._proc = subprocess.Popen(  # noqa: ASYNC220
                argv,
                cwd=self.bootstrap.parent,
                env=self.env,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start a zygote on {self.interpreter}: {exc}") from exc
        finally:
            theirs.close()
        self.pid = self._proc.pid
        ours.setblocking(False)
        self._sock = ours
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)
        config = zygote_wire.zygote_config(argv0, str(self.bootstrap), self.shown_as, self.env)
        try:
            await self._send(zygote_wire.encode(config), [])
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
        except BaseException:
            await self.stop()
            raise

    async def spawn(self, request: dict[str, Any], fds: list[int]) -> Child:
        """Fork a child for ``request`` (its "id" is set here)."""
        if not self.alive:
            raise SandboxError("the zygote is not running")
        request_id = f"{next(_ids)}"
        request["id"] = request_id
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[tuple[int, int]] = loop.create_future()
        exited: asyncio.Future[int] = loop.create_future()
        self._replies[request_id] = reply
        self._exits[request_id] = exited
        try:
            await self._send(zygote_wire.encode(request), fds)
            # The zygote answers in a millisecond; a minute means it hangs.
            pid, pidfd = await asyncio.wait_for(reply, REPLY_TIMEOUT)
        except BaseException:
            self._replies.pop(request_id, None)
            self._exits.pop(request_id, None)
            raise
        return Child(pid, pidfd, exited)

    async def _send(self, data: bytes, fds: list[int]) -> None:
        # One sender at a time: a burst of cold starts fills the socket's buffer, and
        # two senders waiting for it to drain would replace each other's add_writer().
        async with self._send_lock:
            await self._send_now(data, fds)

    async def _send_now(self, data: bytes, fds: list[int]) -> None:
        sock = self._sock
        if sock is None:
            raise SandboxError("the zygote is gone")
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock.sendmsg([data], ancillary)
                return
            except BlockingIOError:
                writable: asyncio.Future[None] = loop.create_future()

                def ready(done: asyncio.Future[None] = writable) -> None:
                    if not done.done():
                        done.set_result(None)

                loop.add_writer(sock.fileno(), ready)
                try:
                    await writable
                finally:
                    loop.remove_writer(sock.fileno())
            except OSError as exc:
                self._die(f"control socket: {exc}")
                raise SandboxError(f"the zygote is gone: {exc}") from exc

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        fd_size = array.array("i").itemsize
        while True:
            try:
                data, ancdata, _, _ = sock.recvmsg(_MAX_MESSAGE, socket.CMSG_SPACE(4 * fd_size))
            except BlockingIOError:
                return
            except OSError as exc:
                self._die(f"control socket: {exc}")
                return
            fds: list[int] = []
            for level, kind, raw in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.extend(array.array("i", raw[: len(raw) - len(raw) % fd_size]))
            if not data:
                self._die("exited")
                return
            self._dispatch(zygote_wire.decode(data), fds)

    def _dispatch(self, doc: dict[str, Any], fds: list[int]) -> None:
        if doc.get("ready"):
            self.python = tuple(doc.get("python", ()))
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            return
        if "exit" in doc:
            exited = self._exits.pop(str(doc["exit"]), None)
            if exited is not None and not exited.done():
                exited.set_result(int(doc["status"]))
            return
        reply = self._replies.pop(str(doc.get("id")), None)
        if reply is None or reply.done():
            for fd in fds:
                _close(fd)
            return
        if "error" in doc or not fds:
            for fd in fds:
                _close(fd)
            self._exits.pop(str(doc.get("id")), None)
            reply.set_exception(SandboxError(f"zygote: {doc.get('error', 'no pidfd')}"))
            return
        reply.set_result((int(doc["pid"]), fds[0]))

    def _die(self, why: str) -> None:
        if self._dead:
            return
        self._dead = True
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(SandboxError(f"zygote on {self.interpreter}: {why}"))
        else:
            log.warning("zygote %d on %s %s", self.pid, self.interpreter, why)
        if self._sock is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(SandboxError(f"the zygote {why}"))
        # Its children died with it (PDEATHSIG): as if killed.
        for exited in self._exits.values():
            if not exited.done():
                exited.set_result(int(signal.SIGKILL))
        self._replies.clear()
        self._exits.clear()

    async def stop(self) -> None:
        """Stop the zygote (its children die with it). Idempotent."""
        self._hang_up()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            # It exits on its own when the control socket closes.
            try:
                await asyncio.to_thread(proc.wait, 2)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)

    def stop_now(self) -> None:
        """``stop()`` for synchronous callers (server shutdown)."""
        self._hang_up()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _hang_up(self) -> None:
        self._die("stopped")
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
