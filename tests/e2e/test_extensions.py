"""Extensions and telemetry as on AWS: an external extension shipped in a layer
(``functions/extension/recorder.py``, standard library only) registers, receives each
INVOKE and the SHUTDOWN when its environment is retired, and receives the platform and
function telemetry streams on its HTTP listener at ``sandbox.localdomain``; it writes
what it gets to its output, which lands in the function's log group. A slow extension
delays the invocation's REPORT, not the caller's answer. An ``AWS_LAMBDA_EXEC_WRAPPER``
script in the layer runs the runtime; an internal extension registers from the
handler's own process (a function without a launcher: the zygote path).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.helpers import PRIMARY, LambdadServer, make_zip

NewFunction = Callable[..., dict[str, Any]]
FIXTURES = Path(__file__).parent / "functions" / "extension"

HANDLER = """
import os, socket

try:  # the extension's service is up: the runtime started after it registered
    socket.create_connection(("127.0.0.1", 2773), timeout=2).close()
    UP = True
except OSError:
    UP = False

def handler(event, context):
    print("hello from the handler")
    return {"wrapped": os.environ.get("WRAPPED_BY"), "extension_up": UP}
"""

INTERNAL = """
import json, os, threading, urllib.error, urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]

def register(events):
    body = json.dumps({"events": events}).encode()
    request = urllib.request.Request(
        f"http://{API}/2020-01-01/extension/register", body,
        {"Lambda-Extension-Name": "in-process"}, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers["Lambda-Extension-Identifier"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["errorType"]

REFUSED = register(["INVOKE", "SHUTDOWN"])
STATUS, ME = register(["INVOKE"])
SEEN = []

def poll():
    while True:
        request = urllib.request.Request(
            f"http://{API}/2020-01-01/extension/event/next",
            headers={"Lambda-Extension-Identifier": ME})
        with urllib.request.urlopen(request) as response:
            SEEN.append(json.loads(response.read())["requestId"])

threading.Thread(target=poll, daemon=True).start()

def handler(event, context):
    return {"refused": list(REFUSED), "status": STATUS, "seen": SEEN}
"""


def _layer(server: LambdadServer, name: str) -> str:
    content = make_zip(
        {
            "extensions/recorder": (FIXTURES / "recorder.py").read_text(),
            "wrapper.sh": (FIXTURES / "wrapper.sh").read_text(),
        },
        mode=0o100755,
    )
    published = server.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": content}, CompatibleRuntimes=["python3.12"]
    )
    arn: str = published["LayerVersionArn"]
    return arn


def _log(server: LambdadServer, name: str, done: Callable[[list[str]], bool]) -> list[str]:
    """The function's log messages, once ``done`` holds of them (or after 20 s)."""
    logs = server.client("logs")
    deadline = time.monotonic() + 20
    while True:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        messages = [e["message"].rstrip("\n") for e in events]
        if done(messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.1)


def _tagged(messages: list[str], tag: str) -> list[dict[str, Any]]:
    return [json.loads(m[len(tag) + 1 :]) for m in messages if m.startswith(tag + " ")]


def _reported(request_id: str) -> Callable[[list[str]], bool]:
    return lambda messages: any(m.startswith("REPORT RequestId: " + request_id) for m in messages)


def _shut_down(messages: list[str]) -> bool:
    return any(e["eventType"] == "SHUTDOWN" for e in _tagged(messages, "EVENT"))


def test_an_external_extension_sees_invokes_telemetry_and_shutdown(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    layer = _layer(lambdad, unique_name("layer"))
    created = new_function(
        make_zip({"app.py": HANDLER}),
        Layers=[layer],
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh"}},
    )
    name, arn = created["FunctionName"], created["FunctionArn"]
    client = lambdad.client("lambda")
    request_ids = []
    for _ in range(2):
        out = client.invoke(FunctionName=name, Payload=b"{}")
        assert "FunctionError" not in out
        # The wrapper ran the runtime, and set a variable the handler sees.
        answer = json.loads(out["Payload"].read())
        assert answer["wrapped"].startswith("wrapper python")
        # The extension's init came first: its service was up for the function's init.
        assert answer["extension_up"] is True
        request_ids.append(out["ResponseMetadata"]["RequestId"])
        # Ended (and its environment free again) once its extension is back in next.
        _log(lambdad, name, _reported(request_ids[-1]))
    # A configuration change retires the environment: SHUTDOWN reaches the extension.
    client.update_function_configuration(FunctionName=name, Description="retire it")
    messages = _log(lambdad, name, _shut_down)

    registered = [
        json.loads(m.removeprefix("REGISTERED ")) for m in messages if m.startswith("REGISTERED ")
    ]
    assert registered == [
        {
            "functionName": name,
            "functionVersion": "$LATEST",
            "handler": "app.handler",
            "accountId": PRIMARY.account_id,
        }
    ]
    events = _tagged(messages, "EVENT")
    invokes = [e for e in events if e["eventType"] == "INVOKE"]
    assert [e["requestId"] for e in invokes] == request_ids
    for event in invokes:
        assert event["invokedFunctionArn"] == arn
        assert event["deadlineMs"] > time.time() * 1000 - 60_000
        assert event["tracing"]["type"] == "X-Amzn-Trace-Id"
    shutdown = events[-1]
    assert shutdown["eventType"] == "SHUTDOWN"
    assert shutdown["shutdownReason"] == "spindown"
    assert isinstance(shutdown["deadlineMs"], int)

    records = _tagged(messages, "TELEMETRY")
    kinds = [r["type"] for r in records]
    for kind in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport"):
        assert kinds.count(kind) == 1, kind
    assert {"name": "recorder", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]} in [
        r["record"] for r in records if r["type"] == "platform.extension"
    ]
    assert "hello from the handler" in [r["record"] for r in records if r["type"] == "function"]
    assert all(r["time"].endswith("Z") for r in records)
    by_request: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["type"] in ("platform.start", "platform.runtimeDone", "platform.report"):
            by_request.setdefault(r["record"]["requestId"], {})[r["type"]] = r["record"]
    assert list(by_request) == request_ids
    for i, request_id in enumerate(request_ids):
        seen = by_request[request_id]
        assert seen["platform.start"]["version"] == "$LATEST"
        done = seen["platform.runtimeDone"]
        assert done["status"] == "success"
        assert done["metrics"]["producedBytes"] > 0
        assert done["metrics"]["durationMs"] >= 0
        assert [s["name"] for s in done["spans"]] == ["responseLatency", "responseDuration"]
        report = seen["platform.report"]
        assert report["status"] == "success"
        metrics = report["metrics"]
        assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(metrics)
        assert metrics["memorySizeMB"] == 128
        assert ("initDurationMs" in metrics) is (i == 0)
    # The log names the extension and its subscription, as AWS's does.
    assert "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE,SHUTDOWN]" in messages
    assert "TELEMETRY\tName: recorder\tState: Subscribed\tTypes: [Function, Platform]" in messages
    # Its output is in the function's log group, unmarked; the platform's lines too.
    assert any(m.startswith("REPORT RequestId: " + request_ids[1]) for m in messages)
    assert not any("\x1e" in m for m in messages)


def test_a_slow_extension_delays_the_report_not_the_answer(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    layer = _layer(lambdad, unique_name("layer"))
    name = new_function(
        make_zip({"app.py": HANDLER}),
        Layers=[layer],
        Environment={"Variables": {"EXTENSION_SLEEP": "1"}},
    )["FunctionName"]
    client = lambdad.client("lambda")
    out = client.invoke(FunctionName=name, Payload=b"{}")
    answered_ms = time.time() * 1000
    assert json.loads(out["Payload"].read()) == {"wrapped": None, "extension_up": True}
    first = out["ResponseMetadata"]["RequestId"]

    _log(lambdad, name, _reported(first))
    logs = lambdad.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
    report = next(
        e for e in logs["events"] if e["message"].startswith("REPORT RequestId: " + first)
    )
    # The caller had its answer before the invocation ended (the extension's second).
    assert answered_ms < report["timestamp"]
    duration = float(report["message"].split("Duration: ")[1].split(" ms")[0])
    assert duration >= 1000
    done = [
        r["record"]
        for r in _tagged([e["message"].rstrip("\n") for e in logs["events"]], "TELEMETRY")
        if r["type"] == "platform.runtimeDone"
    ]
    assert done
    assert done[0]["metrics"]["durationMs"] < duration
    # Once its extension is back in next, the environment serves again (warm).
    second = client.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    messages = _log(lambdad, name, _reported(second))
    line = next(m for m in messages if m.startswith("REPORT RequestId: " + second))
    assert "Init Duration" not in line


def test_an_internal_extension_registers_from_the_runtime_process(
    new_function: NewFunction, lambdad: LambdadServer
) -> None:
    name = new_function(make_zip({"app.py": INTERNAL}))["FunctionName"]
    client = lambdad.client("lambda")
    first = client.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    _log(lambdad, name, _reported(first))  # its environment is free again
    out = client.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert body["refused"] == [403, "ShutdownEventNotSupportedForInternalExtension"]
    assert body["status"] == 200
    # The same environment: its extension saw the first INVOKE.
    assert first in body["seen"]


def test_an_extension_that_crashes_fails_the_init(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    content = make_zip({"extensions/crasher": "#!/bin/sh\necho giving up\nexit 3\n"}, mode=0o100755)
    layer = lambdad.client("lambda").publish_layer_version(
        LayerName=unique_name("layer"), Content={"ZipFile": content}
    )["LayerVersionArn"]
    name = new_function(make_zip({"app.py": HANDLER}), Layers=[layer])["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "Extension.Crash"
    assert "giving up" in _log(lambdad, name, lambda ms: "giving up" in ms)


def test_a_wrapper_script_runs_the_node_runtime(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    content = make_zip({"wrapper.sh": (FIXTURES / "wrapper.sh").read_text()}, mode=0o100755)
    layer = lambdad.client("lambda").publish_layer_version(
        LayerName=unique_name("layer"), Content={"ZipFile": content}
    )["LayerVersionArn"]
    name = new_function(
        make_zip({"index.js": "exports.handler = async () => process.env.WRAPPED_BY;"}),
        Runtime="nodejs20.x",
        Handler="index.handler",
        Layers=[layer],
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh"}},
    )["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(out["Payload"].read()) == "wrapper node"
