"""A warm environment whose runtime died while idle is never handed out again: the next
invoke starts a new one instead of waiting out the function's timeout."""

from __future__ import annotations

import base64
import json
import os
import signal
import time

from tests.e2e.helpers import ROLE, handler_zip

PID_HANDLER = "import os\n\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"


def test_an_idle_environment_killed_from_outside_is_replaced(lambdad_factory) -> None:
    server = lambdad_factory(env={"LAMBDAD_SANDBOX": "process"})
    client = server.client("lambda")
    client.create_function(
        FunctionName="pid",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": handler_zip(PID_HANDLER)},
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName="pid", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    first = json.loads(client.invoke(FunctionName="pid")["Payload"].read())
    os.kill(first["pid"], signal.SIGKILL)
    time.sleep(0.3)  # the platform sees the exit; the environment is still in the pool

    started = time.monotonic()
    resp = client.invoke(FunctionName="pid", LogType="Tail")
    elapsed = time.monotonic() - started
    second = json.loads(resp["Payload"].read())
    log = base64.b64decode(resp["LogResult"]).decode()
    assert "FunctionError" not in resp, log
    assert second["pid"] != first["pid"]
    assert "Init Duration" in log  # a cold start, not the dead one
    assert elapsed < 15, f"the invoke waited {elapsed:.1f} s on a dead environment"
