"""The server processes the harness runs: moto_server and lambdad.

A ``ServerProcess`` is one child that listens on a loopback port: started in its own
process group with its output appended to a log file, awaited until it accepts
connections, and stopped with SIGTERM, then SIGKILL for its whole group after a grace
period. ``stop`` is idempotent. ``Lambdad`` adds restarts: each start uses a fresh
data directory and port, so every test can begin with an empty server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


class HarnessError(Exception):
    """The harness itself could not do its job (as opposed to a failing test)."""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


class ServerProcess:
    """One child server process on a loopback port."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 30.0) -> None:
        """Start the process and return once it accepts connections."""
        with self.log_path.open("ab") as log_file:
            log_file.write(f"==== {self.name}: {' '.join(self.argv)}\n".encode())
            log_file.flush()
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout
        while not _accepts(self.port):
            if self._process.poll() is not None:
                raise HarnessError(
                    f"{self.name} exited with status {self._process.returncode} before "
                    f"listening on port {self.port}; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise HarnessError(
                    f"{self.name} did not listen on port {self.port} within "
                    f"{ready_timeout:.0f}s; see {self.log_path}"
                )
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL to the process group after ``grace`` seconds; idempotent."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        # The group is this child's own (start_new_session): whatever it left running
        # (function processes) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None


class Lambdad:
    """lambdad under test, restartable with an empty data directory.

    ``restart`` is called from the router's thread while the harness may be shutting
    down from the main one: a lock orders them, and nothing starts after ``close``.
    """

    def __init__(self, executable: Path, *, env: Mapping[str, str], log_path: Path) -> None:
        self.executable = executable
        self.env = dict(env)
        self.log_path = log_path
        self.restarts = 0
        self._server: ServerProcess | None = None
        self._data_dir: Path | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def port(self) -> int:
        if self._server is None:
            raise HarnessError("lambdad is not running")
        return self._server.port

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._closed:
            raise HarnessError("lambdad was closed")
        self._data_dir = Path(tempfile.mkdtemp(prefix="lambdad-conformance-"))
        port = free_port()
        argv = [
            str(self.executable),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(self._data_dir),
        ]
        self._server = ServerProcess(
            "lambdad", argv, port=port, env=self.env, log_path=self.log_path
        )
        self._server.start()

    def restart(self) -> tuple[str, int]:
        """Stop, then start empty; returns the new address."""
        with self._lock:
            self._stop()
            self._start()
            self.restarts += 1
            return LOOPBACK, self.port

    def close(self) -> None:
        """Stop for good; idempotent."""
        with self._lock:
            self._closed = True
            self._stop()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None
