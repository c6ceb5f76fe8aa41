"""A pidfd says a process has exited as soon as it has, before anyone reaps it: what the
warm pool asks before handing an idle environment out."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from lambdad.sandbox.child import pidfd_exited


def test_a_killed_process_reads_as_exited_before_it_is_reaped() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    fd = os.pidfd_open(proc.pid)
    try:
        assert not pidfd_exited(fd)
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not pidfd_exited(fd) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pidfd_exited(fd)
        assert proc.returncode is None  # nobody reaped it yet
    finally:
        os.close(fd)
        proc.wait()
    assert pidfd_exited(-1)  # a closed pidfd: gone
