"""``lambdad dev --debug NAME``: the function's next environment waits for a debugger
on the host port, as ``sam local invoke -d`` does; a debugger attaches over the Debug
Adapter Protocol, sees the handler stop, and lets it go."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from e2e.helpers import LAMBDAD, LambdadServer, client_env, free_port, make_zip, read_until

SOURCE = (
    "def handler(event, context):\n"
    "    answer = {'debugged': event['n'] + 1}\n"
    "    if event.get('stop'):\n"
    "        breakpoint()\n"
    "    return answer\n"
)


class Dap:
    """A minimal Debug Adapter Protocol client."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline, "the debugger port never opened"
                time.sleep(0.1)
        self.buffer = b""
        self.seq = 0

    def send(self, command: str, **arguments: Any) -> None:
        self.seq += 1
        doc = {"seq": self.seq, "type": "request", "command": command, "arguments": arguments}
        body = json.dumps(doc).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._read()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":")[1])
        while len(rest) < length:
            rest += self._read()
        self.buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        return message

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        assert chunk, "the debugger connection closed"
        return chunk

    def until(self, kind: str, name: str) -> dict[str, Any]:
        while True:
            message = self.receive()
            if message.get("type") == kind and name in (
                message.get("event"),
                message.get("command"),
            ):
                return message


def test_a_debugger_attaches_and_sees_the_handler_stop(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    pytest.importorskip("debugpy")
    client = lambdad.client("lambda")
    name = new_function(make_zip({"app.py": SOURCE}), Timeout=3)["FunctionName"]
    port = free_port()
    proc = subprocess.Popen(
        [LAMBDAD, "dev", "--debug", name, "--debug-port", str(port)],
        env=client_env(lambdad),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    result: dict[str, Any] = {}
    try:
        assert "waits for a debugger" in read_until(proc, "waits for a debugger", timeout=30)
        # No code to push: nothing is watched (the current directory may be anything).
        assert "following the log" in read_until(proc, "Ctrl-C to stop", timeout=30)
        invoking = threading.Thread(
            target=lambda: result.update(
                client.invoke(FunctionName=name, Payload=b'{"n": 41, "stop": 1}')
            )
        )
        invoking.start()
        dap = Dap(port)
        dap.send("initialize", clientID="test", adapterID="debugpy", pathFormat="path",
                 linesStartAt1=True, columnsStartAt1=True)  # fmt: skip
        dap.until("response", "initialize")
        dap.send("attach", justMyCode=False)
        dap.until("event", "initialized")
        dap.send("configurationDone")
        stopped = dap.until("event", "stopped")
        # Stopped at breakpoint() for longer than the function's 3 s timeout: nothing
        # times out while a debugger holds it.
        time.sleep(4)
        assert not result
        dap.send("continue", threadId=stopped["body"]["threadId"])
        invoking.join(30)
        dap.sock.close()
        assert json.loads(result["Payload"].read()) == {"debugged": 42}
        assert "FunctionError" not in result
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert b"Traceback" not in err, err.decode()
    # Detached: the function runs as before, its timeout applies again.
    answer = client.invoke(FunctionName=name, Payload=b'{"n": 1}')
    assert json.loads(answer["Payload"].read()) == {"debugged": 2}
