"""The exit of a sandbox's top process, watched through a pidfd on the event loop.

No thread per child (asyncio's default child watcher on 3.11 starts one each): the
pidfd becomes readable when the process exits, and the loop reaps it then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
from collections.abc import Callable


def pidfd_exited(pidfd: int) -> bool:
    """Whether the process a pidfd names has exited, asked now: a pidfd is readable from
    its exit on (whoever its parent is), a turn or two of the event loop before the
    reaper's callback runs. A closed one (-1) counts as exited."""
    if pidfd < 0:
        return True
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


class ChildWatch:
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        translate: Callable[[int], int] = lambda code: code,
    ) -> None:
        """``translate`` maps the raw exit code (e.g. a wrapper's 128 + signal)."""
        self.proc = proc
        self.pid = proc.pid
        self._translate = translate
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._reap)

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return
        self.close()
        code = os.waitstatus_to_exitcode(status)
        # Tell Popen the child is gone, so it neither waits again nor warns.
        self.proc.returncode = code
        if not self.exited.done():
            self.exited.set_result(self._translate(code))

    async def wait(self) -> int:
        return await asyncio.shield(self.exited)

    def exited_now(self) -> bool:
        return self.exited.done() or pidfd_exited(self._pidfd)

    def kill_group(self) -> None:
        """SIGKILL the child's whole session (it was started in a session of its own)."""
        if not self.exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        if self._pidfd >= 0:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1


def from_wrapper_status(code: int) -> int:
    """Wrappers (bwrap) report a command killed by a signal as 128 + the signal number."""
    return -(code - 128) if code > 128 else code
