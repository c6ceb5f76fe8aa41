"""One ``lambdad serve`` per data directory (store/serve_lock.py), and the port asked
before anything is opened: a second server says why it cannot start and touches
nothing of the first one's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lambdad.cli.main import port_in_use
from lambdad.store import serve_lock

HOLD = """
import pathlib, sys, time
from lambdad.store import serve_lock
serve_lock.hold(pathlib.Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    fd = serve_lock.hold(tmp_path / "data")
    try:
        with pytest.raises(serve_lock.DataDirInUse, match=rf"\(pid {os.getpid()}\)"):
            serve_lock.hold(tmp_path / "data")
    finally:
        os.close(fd)
    os.close(serve_lock.hold(tmp_path / "data"))  # released with its descriptor


def test_the_lock_goes_with_its_process(tmp_path: Path) -> None:
    # kill -9 of a server leaves no lock behind: the kernel drops it with the process.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(serve_lock.DataDirInUse, match=rf"\(pid {holder.pid}\)"):
            serve_lock.hold(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    os.close(serve_lock.hold(tmp_path))


def test_a_port_in_use_is_found_before_the_server_opens() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)
