"""The broker side of end-to-end tests: Debian's ``rabbitmq-server`` started as a
subprocess on free loopback ports, with its own node name, Mnesia and log directories,
Erlang cookie and ``epmd`` port in a temporary directory (no systemd, nothing shared
with a system broker), and stopped with its ``epmd`` afterwards.

``rabbitmq_server`` yields a ``Broker``: its AMQP URL, and ``ctl(...)`` to run
``rabbitmqctl`` against it; its user is ``guest``/``guest`` (allowed from anywhere here,
since loopback is all it listens on).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from e2e.helpers import free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # Debian's, without the su wrapper
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
START_TIMEOUT = 60.0


def missing() -> str | None:
    """Why no broker can start here, or None."""
    if not Path(SERVER).exists() or shutil.which("epmd") is None:
        return "rabbitmq-server is not installed (apt-get install -y rabbitmq-server)"
    return None


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@dataclass(frozen=True)
class Broker:
    url: str
    env: Mapping[str, str]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [CTL, *args], env=dict(self.env), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@contextlib.contextmanager
def rabbitmq_server(root: Path) -> Iterator[Broker]:
    port, dist, epmd = free_port(), free_port(), free_port()
    (root / "rabbitmq.conf").write_text(
        f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{port}\n"
    )
    (root / "enabled_plugins").write_text("[].\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update(
        HOME=str(root),  # the Erlang cookie
        RABBITMQ_NODENAME=f"lambdad-test-{port}@localhost",
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(dist),
        RABBITMQ_MNESIA_BASE=str(root / "mnesia"),
        RABBITMQ_LOG_BASE=str(root / "log"),
        RABBITMQ_LOGS="-",
        RABBITMQ_CONFIG_FILE=str(root / "rabbitmq"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(root / "enabled_plugins"),
        RABBITMQ_PID_FILE=str(root / "rabbitmq.pid"),
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        ERL_EPMD_ADDRESS="127.0.0.1",
        ERL_EPMD_PORT=str(epmd),
    )
    with (root / "rabbitmq.out").open("wb") as out:
        proc = subprocess.Popen(
            [SERVER], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            assert proc.poll() is None, (root / "rabbitmq.out").read_text()[-2000:]
            assert time.monotonic() < deadline, "rabbitmq-server did not start"
            time.sleep(0.2)
        yield Broker(f"amqp://127.0.0.1:{port}", env)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, check=False)
