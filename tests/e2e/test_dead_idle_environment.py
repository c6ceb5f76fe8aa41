"""A warm environment whose runtime died while idle is never handed out again: the next
invoke starts a new one instead of waiting out the function's timeout."""

from __future__ import annotations

import base64
import json
import os
import signal
import time

from e2e.helpers import handler_zip
from e2e.invoke_support import Deployer
from e2e.sandboxes import alive

PID_HANDLER = "import os\n\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"
TIMEOUT = 30


def test_an_idle_environment_killed_from_outside_is_replaced(lambdad_factory) -> None:
    # The reaper never runs during the test: the dead environment stays in the pool.
    server = lambdad_factory(env={"LAMBDAD_SANDBOX": "process", "LAMBDAD_REAPER_INTERVAL": "3600"})
    name = Deployer(server, "pid")(handler_zip(PID_HANDLER), Timeout=TIMEOUT)
    client = server.client("lambda")
    first = json.loads(client.invoke(FunctionName=name)["Payload"].read())
    os.kill(first["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(first["pid"]):
        assert time.monotonic() < deadline, "the killed runtime is still there"
        time.sleep(0.01)

    started = time.monotonic()
    resp = client.invoke(FunctionName=name, LogType="Tail")
    elapsed = time.monotonic() - started
    second = json.loads(resp["Payload"].read())
    log = base64.b64decode(resp["LogResult"]).decode()
    assert "FunctionError" not in resp, log
    assert second["pid"] != first["pid"]
    assert "Init Duration" in log  # a cold start, not the dead one
    # Handed the dead one, the invoke would have waited out the function's timeout.
    assert elapsed < TIMEOUT / 2, f"the invoke waited {elapsed:.1f} s"
