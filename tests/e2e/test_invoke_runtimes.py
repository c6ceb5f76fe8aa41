"""Invoke, end to end, in every runtime family lambdad runs.

- ``python3.11`` / ``3.12`` / ``3.13``: each on its own CPython (pyenv's or the system's).
- ``nodejs20.x`` / ``nodejs22.x``: async, callback and ES-module handlers (22 runs on
  the host's Node.js 20 with a notice in the init log).
- ``provided.al2023``: a ``bootstrap`` written here that speaks the Runtime API with
  urllib, and one that runs AWS's own client, ``python3 -m awslambdaric``, vendored in
  the zip with pip at test time, unchanged.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import PRIMARY, LambdadServer, make_zip
from e2e.invoke_support import Deployer, Invoked, invoke, log_messages, probe_zip, wait_for_log

ACCOUNT = PRIMARY.account_id
EXECUTABLE = 0o100755


@pytest.fixture(scope="module")
def deploy(lambdad: LambdadServer) -> Iterator[Deployer]:
    deployer = Deployer(lambdad, "runtimes")
    yield deployer
    deployer.delete_all()
    assert not deployer.server_errors(), deployer.server_errors()


def assert_unhandled(out: Invoked, error_type: str) -> dict[str, Any]:
    assert out.status == 200
    assert out.function_error == "Unhandled"
    doc: dict[str, Any] = out.json()
    assert doc["errorType"] == error_type, doc
    return doc


def zip_with_modes(files: dict[str, tuple[str | bytes, int]]) -> bytes:
    """A zip whose entries each carry their own mode (``bootstrap`` must be executable)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (mode & 0xFFFF) << 16
            zf.writestr(info, content)
    return buf.getvalue()


# -- Python -----------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["python3.11", "python3.12", "python3.13"])
def test_python_runtimes_run_on_their_own_interpreter(
    lambdad: LambdadServer, deploy: Deployer, runtime: str
) -> None:
    name = deploy(probe_zip(), runtime=runtime)
    cold = invoke(lambdad, name, {"action": "environ"})
    assert cold.function_error is None
    seen = cold.json()
    assert seen["python"] == runtime.removeprefix("python")
    assert seen["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert cold.cold
    warm = invoke(lambdad, name, {"action": "context_fields"})
    assert not warm.cold
    assert warm.json()["aws_request_id"] == warm.request_id
    failed = invoke(lambdad, name, {"action": "fail", "message": f"boom on {runtime}"})
    doc = assert_unhandled(failed, "ValueError")
    assert doc["errorMessage"] == f"boom on {runtime}"
    assert doc["requestId"] == failed.request_id
    assert "in fail" in doc["stackTrace"][-1]


# -- Node.js ----------------------------------------------------------------------------------

NODE_INDEX = r"""
let counter = 0;

exports.handler = async (event, context) => {
  counter += 1;
  if (event.action === 'fail') {
    throw new TypeError(event.message);
  }
  if (event.action === 'log') {
    console.log('logged from node', event.word);
  }
  return {
    counter,
    event,
    node: process.version,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    invokedFunctionArn: context.invokedFunctionArn,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext || null,
    env: { greeting: process.env.GREETING, taskRoot: process.env.LAMBDA_TASK_ROOT },
    cwd: process.cwd(),
  };
};

exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { via: 'callback', event }), 20);
};

exports.callbackError = (event, context, callback) => {
  callback(new Error('the callback failed'));
};
"""

NODE_ESM = """
export const handler = async (event) => ({ esm: true, event });
"""


@pytest.fixture(scope="module")
def node_function(deploy: Deployer) -> str:
    return deploy(
        make_zip({"index.js": NODE_INDEX, "esm.mjs": NODE_ESM}),
        runtime="nodejs20.x",
        handler="index.handler",
        Timeout=4,
        MemorySize=256,
        Environment={"Variables": {"GREETING": "hi=there"}},
    )


def test_nodejs_async_handler_result_and_context(
    lambdad: LambdadServer, node_function: str
) -> None:
    client_context = {"custom": {"k": "v"}, "env": {"locale": "en"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    out = invoke(lambdad, node_function, {"word": "x"}, ClientContext=encoded)
    assert out.function_error is None, out.payload
    doc = out.json()
    assert doc["event"] == {"word": "x"}
    assert doc["node"].startswith("v")
    assert doc["requestId"] == out.request_id
    assert doc["functionName"] == node_function
    assert doc["functionVersion"] == "$LATEST"
    assert doc["memoryLimitInMB"] == "256"
    assert doc["invokedFunctionArn"] == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{node_function}"
    )
    assert doc["logGroupName"] == f"/aws/lambda/{node_function}"
    assert 3000 < doc["remaining"] <= 4000
    assert doc["clientContext"] == client_context
    assert doc["env"]["greeting"] == "hi=there"
    assert doc["cwd"] == doc["env"]["taskRoot"]


def test_nodejs_environment_is_reused_warm(lambdad: LambdadServer, node_function: str) -> None:
    first = invoke(lambdad, node_function, {"action": "log", "word": "again"})
    second = invoke(lambdad, node_function, {})
    assert second.json()["counter"] == first.json()["counter"] + 1
    assert second.json()["logStreamName"] == first.json()["logStreamName"]
    assert not second.cold
    # console.log lines: time, request id, level, message.
    lines = [line for line in first.log.splitlines() if "logged from node again" in line]
    assert len(lines) == 1
    stamp, rid, level, message = lines[0].split("\t")
    assert rid == first.request_id
    assert level == "INFO"
    assert message == "logged from node again"
    assert stamp.endswith("Z")


def test_nodejs_thrown_error_has_type_message_and_trace(
    lambdad: LambdadServer, node_function: str
) -> None:
    out = invoke(lambdad, node_function, {"action": "fail", "message": "bad input"})
    doc = assert_unhandled(out, "TypeError")
    assert doc["errorMessage"] == "bad input"
    assert doc["trace"][0] == "TypeError: bad input"
    assert any("index.js" in frame for frame in doc["trace"])


def test_nodejs_callback_and_esm_handlers(lambdad: LambdadServer, deploy: Deployer) -> None:
    code = make_zip({"index.js": NODE_INDEX, "esm.mjs": NODE_ESM})
    callback = deploy(code, runtime="nodejs20.x", handler="index.callback")
    assert invoke(lambdad, callback, {"n": 1}).json() == {"via": "callback", "event": {"n": 1}}
    failing = deploy(code, runtime="nodejs20.x", handler="index.callbackError")
    doc = assert_unhandled(invoke(lambdad, failing), "Error")
    assert doc["errorMessage"] == "the callback failed"
    esm = deploy(code, runtime="nodejs20.x", handler="esm.handler")
    assert invoke(lambdad, esm, {"n": 2}).json() == {"esm": True, "event": {"n": 2}}


def test_nodejs_missing_handler_is_handler_not_found(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = make_zip({"index.js": NODE_INDEX})
    name = deploy(code, runtime="nodejs20.x", handler="index.nothingHere")
    doc = assert_unhandled(invoke(lambdad, name), "Runtime.HandlerNotFound")
    assert "nothingHere" in doc["errorMessage"]
    missing = deploy(code, runtime="nodejs20.x", handler="nowhere.handler")
    assert_unhandled(invoke(lambdad, missing), "Runtime.ImportModuleError")


def test_nodejs_timeout_and_exit(lambdad: LambdadServer, deploy: Deployer) -> None:
    code = make_zip(
        {
            "index.js": "exports.handler = async (event) => {\n"
            "  if (event.exit) process.exit(event.exit);\n"
            "  await new Promise((resolve) => setTimeout(resolve, 30000));\n"
            "};\n"
        }
    )
    name = deploy(code, runtime="nodejs20.x", handler="index.handler", Timeout=1)
    out = invoke(lambdad, name, {})
    assert out.elapsed < 1.5
    doc = assert_unhandled(out, "Sandbox.Timedout")
    assert doc["errorMessage"].endswith("Task timed out after 1.00 seconds")
    crashed = invoke(lambdad, name, {"exit": 9})
    doc = assert_unhandled(crashed, "Runtime.ExitError")
    assert doc["errorMessage"].endswith("Runtime exited with error: exit status 9")


def test_nodejs22_runs_on_the_hosts_node_with_a_notice(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(make_zip({"index.js": NODE_INDEX}), runtime="nodejs22.x", handler="index.handler")
    out = invoke(lambdad, name, {"n": 22})
    assert out.function_error is None, out.payload
    major = int(out.json()["node"].lstrip("v").split(".")[0])
    if major == 22:
        return  # the host has Node.js 22: nothing to say
    messages = wait_for_log(lambdad, name, "Node.js 22")
    notice = next(m for m in messages if "Node.js 22" in m)
    assert f"running on Node.js {major}" in notice


# -- provided.al2023: a bootstrap of our own ----------------------------------------------

URLLIB_BOOTSTRAP = r'''#!/usr/bin/env python3
"""A custom runtime: the Runtime API with nothing but urllib."""
import json
import os
import sys
import time
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, body, headers=None):
    request = urllib.request.Request(API + path, data=body, method="POST")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request) as response:
        return response.status


if os.environ.get("_HANDLER") == "broken":
    post("/init/error", json.dumps({"errorMessage": "cannot start", "errorType": "Custom.Init"})
         .encode(), {"Lambda-Runtime-Function-Error-Type": "Custom.Init"})
    sys.exit(1)

print("custom runtime ready", flush=True)
count = 0
while True:
    with urllib.request.urlopen(API + "/invocation/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(response.headers["Lambda-Runtime-Deadline-Ms"])
        arn = response.headers["Lambda-Runtime-Invoked-Function-Arn"]
        trace = response.headers["Lambda-Runtime-Trace-Id"]
        event = json.loads(response.read())
    count += 1
    print("handling", request_id, flush=True)
    if event.get("fail"):
        body = {"errorMessage": event["fail"], "errorType": "Custom.Failure"}
        post("/invocation/" + request_id + "/error", json.dumps(body).encode(),
             {"Lambda-Runtime-Function-Error-Type": "Custom.Failure"})
        continue
    result = {
        "event": event,
        "count": count,
        "request_id": request_id,
        "arn": arn,
        "trace": trace,
        "remaining_ms": deadline - int(time.time() * 1000),
        "handler": os.environ["_HANDLER"],
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "cwd": os.getcwd(),
    }
    post("/invocation/" + request_id + "/response", json.dumps(result).encode())
'''


def test_provided_bootstrap_speaking_the_runtime_api(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = zip_with_modes({"bootstrap": (URLLIB_BOOTSTRAP, EXECUTABLE)})
    name = deploy(code, runtime="provided.al2023", handler="my.handler", Timeout=3)
    first = invoke(lambdad, name, {"hello": "world"})
    assert first.function_error is None, first.payload
    doc = first.json()
    assert doc["event"] == {"hello": "world"}
    assert doc["request_id"] == first.request_id
    assert doc["arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert doc["trace"].startswith("Root=1-")
    assert 2000 < doc["remaining_ms"] <= 3000
    assert doc["handler"] == "my.handler"
    assert doc["cwd"] == doc["task_root"]
    assert first.cold
    assert f"handling {first.request_id}" in first.log
    second = invoke(lambdad, name, {})
    assert second.json()["count"] == 2
    assert not second.cold
    failed = invoke(lambdad, name, {"fail": "custom failure"})
    assert assert_unhandled(failed, "Custom.Failure")["errorMessage"] == "custom failure"
    assert invoke(lambdad, name, {}).json()["count"] == 4
    assert any("custom runtime ready" in m for m in log_messages(lambdad, name))


# A shell bootstrap as AWS's custom runtime tutorial writes one: ``#!/bin/sh`` with bash's
# ``set -o pipefail`` and ``source`` (Amazon Linux's sh is bash), curl for the Runtime API.
SHELL_BOOTSTRAP = """#!/bin/sh
set -euo pipefail
source "$LAMBDA_TASK_ROOT/${_HANDLER%%.*}.sh"
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  head="$(mktemp)"
  event="$(curl -sS -D "$head" "$api/next")"
  id="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$head" | cut -d: -f2 | tr -d '[:space:]')"
  curl -sS -o /dev/null "$api/$id/response" -d "$(${_HANDLER##*.} "$event")"
done
"""
SHELL_HANDLER = """function reply () {
  echo "shell saw: $1"
}
"""


def test_a_shell_bootstrap_written_for_amazon_linux(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = zip_with_modes(
        {"bootstrap": (SHELL_BOOTSTRAP, EXECUTABLE), "fn.sh": (SHELL_HANDLER, EXECUTABLE)}
    )
    name = deploy(code, runtime="provided.al2023", handler="fn.reply")
    out = invoke(lambdad, name, {"n": 1})
    assert out.function_error is None, (out.payload, out.log)
    assert out.payload == b'shell saw: {"n": 1}'


def test_provided_bootstrap_init_error(lambdad: LambdadServer, deploy: Deployer) -> None:
    code = zip_with_modes({"bootstrap": (URLLIB_BOOTSTRAP, EXECUTABLE)})
    name = deploy(code, runtime="provided.al2023", handler="broken")
    doc = assert_unhandled(invoke(lambdad, name), "Custom.Init")
    assert doc["errorMessage"] == "cannot start"


PROTOCOL_BOOTSTRAP = r"""#!/usr/bin/env python3
# Probes the Runtime API's answers to a runtime that misbehaves, and reports them.
import http.client
import json
import os

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
P = "/2018-06-01/runtime"


def call(method, path, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection(HOST, int(PORT))
    if chunked:
        conn.request(method, path, body=iter([body[:7], body[7:]]), headers=headers or {},
                     encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), data, response


def doc(data):
    return json.loads(data) if data else None


late = None
while True:
    status, ctype, body, response = call("GET", P + "/invocation/next")
    rid = response.getheader("Lambda-Runtime-Aws-Request-Id")
    seen = {"next": [status, ctype, doc(body)], "late": late}
    s, c, b, _ = call("POST", P + "/invocation/not-the-id/response", b"{}")
    seen["wrong_id"] = [s, c, doc(b)]
    s, c, b, _ = call("POST", P + "/invocation/not-the-id/error", b"{}",
                      {"Lambda-Runtime-Function-Error-Type": "X.Y"})
    seen["wrong_id_error"] = [s, c, doc(b)]
    s, c, b, _ = call("POST", P + "/init/error", b'{"errorMessage": "late"}',
                      {"Lambda-Runtime-Function-Error-Type": "Late.Init"})
    seen["init_error_after_init"] = [s, c, doc(b)["errorType"]]
    seen["wrong_method"] = call("GET", P + "/invocation/" + rid + "/response")[0]
    seen["unknown_path"] = call("POST", P + "/no/such/thing", b"")[0]
    payload = json.dumps(seen).encode()
    first = call("POST", P + "/invocation/" + rid + "/response", payload, chunked=True)
    again = call("POST", P + "/invocation/" + rid + "/response", b"{}")
    late = [[first[0], first[1], doc(first[2])], [again[0], again[1], doc(again[2])]]
"""


def test_runtime_api_answers_a_misbehaving_runtime_like_aws(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = zip_with_modes({"bootstrap": (PROTOCOL_BOOTSTRAP, EXECUTABLE)})
    name = deploy(code, runtime="provided.al2023", handler="probe")
    first = invoke(lambdad, name, {"event": 1})
    assert first.function_error is None, first.payload
    seen = first.json()
    json_type = "application/json"
    assert seen["next"] == [200, json_type, {"event": 1}]
    invalid_id = {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}
    assert seen["wrong_id"] == [400, json_type, invalid_id]
    assert seen["wrong_id_error"] == [400, json_type, invalid_id]
    assert seen["init_error_after_init"] == [403, json_type, "InvalidStateTransition"]
    assert seen["wrong_method"] == 405
    assert seen["unknown_path"] == 404
    assert seen["late"] is None
    # The chunked response was accepted; posting it again is refused as an unknown id.
    second = invoke(lambdad, name, {"event": 2})
    late = second.json()["late"]
    assert late == [[202, json_type, {"status": "OK"}], [400, json_type, invalid_id]]
    assert second.json()["next"][2] == {"event": 2}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"README": ("no bootstrap here", 0o100644)},
            "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
        ),
        (
            {"bootstrap": (URLLIB_BOOTSTRAP, 0o100644)},
            "fork/exec /var/task/bootstrap: permission denied",
        ),
    ],
    ids=["missing", "not-executable"],
)
def test_provided_without_a_runnable_bootstrap_is_invalid_entrypoint(
    lambdad: LambdadServer, deploy: Deployer, files: dict[str, tuple[str, int]], message: str
) -> None:
    name = deploy(zip_with_modes(dict(files)), runtime="provided.al2023")
    doc = assert_unhandled(invoke(lambdad, name), "Runtime.InvalidEntrypoint")
    assert doc["errorMessage"].endswith(message)


# -- provided.al2023: AWS's own runtime client, unchanged ---------------------------------

RIC_APP = """
import os


def handler(event, context):
    if event.get("fail"):
        raise KeyError(event["fail"])
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "custom": context.client_context.custom if context.client_context else None,
        "greeting": os.environ.get("GREETING"),
    }
"""

RIC_BOOTSTRAP = '#!/bin/sh\ncd "$LAMBDA_TASK_ROOT"\nexec python3 -m awslambdaric "$_HANDLER"\n'


@pytest.fixture(scope="session")
def awslambdaric_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """awslambdaric from PyPI, installed for this interpreter, once per session."""
    system = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    if system != mine:
        pytest.skip(f"the vendored awslambdaric is built for {mine}; /usr/bin/python3 is {system}")
    target = tmp_path_factory.mktemp("awslambdaric")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "awslambdaric"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install awslambdaric failed:\n{proc.stderr}")
    return target


def test_awslambdaric_runs_unchanged_on_a_provided_runtime(
    lambdad: LambdadServer, deploy: Deployer, awslambdaric_dir: Path
) -> None:
    files: dict[str, tuple[str | bytes, int]] = {
        "bootstrap": (RIC_BOOTSTRAP, EXECUTABLE),
        "app.py": (RIC_APP, 0o100644),
    }
    for path in sorted(awslambdaric_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(awslambdaric_dir).as_posix()
            files[rel] = (path.read_bytes(), 0o100755 if path.suffix == ".so" else 0o100644)
    name = deploy(
        zip_with_modes(files),
        runtime="provided.al2023",
        handler="app.handler",
        Timeout=3,
        MemorySize=512,
        Environment={"Variables": {"GREETING": "x=y"}},
    )
    encoded = base64.b64encode(json.dumps({"custom": {"via": "ric"}}).encode()).decode()
    out = invoke(lambdad, name, {"n": 1}, ClientContext=encoded)
    assert out.function_error is None, out.payload
    doc = out.json()
    assert doc["event"] == {"n": 1}
    assert doc["request_id"] == out.request_id
    assert doc["function_name"] == name
    assert doc["memory"] == "512"
    assert doc["arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert 2000 < doc["remaining_ms"] <= 3000
    assert doc["custom"] == {"via": "ric"}
    assert doc["greeting"] == "x=y"
    assert out.cold
    warm = invoke(lambdad, name, {"n": 2})
    assert warm.json()["event"] == {"n": 2}
    assert not warm.cold
    failed = invoke(lambdad, name, {"fail": "missing-key"})
    err = assert_unhandled(failed, "KeyError")
    assert err["errorMessage"] == "'missing-key'"
    assert err["requestId"] == failed.request_id
    assert any("app.py" in frame for frame in err["stackTrace"])
    assert invoke(lambdad, name, {"n": 3}).json()["event"] == {"n": 3}
