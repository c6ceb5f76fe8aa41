"""Support for the Invoke end-to-end tests: deploying functions, invoking, reading logs.

``Deployer`` creates functions on a server for a whole test module (functions are
shared between tests to keep cold starts few) and deletes them at the end.
``invoke`` calls Invoke through boto3 and returns an ``Invoked``: the payload, the
headers AWS users read, and the decoded ``X-Amz-Log-Result`` tail.
``PROBE`` is a Python function whose event picks what it does, so one warm
environment serves many tests.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from e2e.helpers import LambdadServer, make_zip

# The REPORT line, byte for byte as AWS writes it (Init Duration last, cold starts only).
REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d{2}) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<used>\d+) MB\t(?:Init Duration: (?P<init>\d+\.\d{2}) ms\t)?"
)
LOG_STREAM_RE = re.compile(r"\d{4}/\d\d/\d\d/\[(?P<version>[^\]]+)\][0-9a-f]{32}")

# One Python module, many behaviours: {"action": ..., ...} picks one.
PROBE = r"""
import json
import logging
import os
import sys
import time

COUNTER = 0
STARTED = time.time()


def _client_context(cc):
    if cc is None:
        return None
    client = cc.client
    return {
        "custom": cc.custom,
        "env": cc.env,
        "client": None if client is None else {
            "installation_id": client.installation_id,
            "app_title": client.app_title,
            "app_version_name": client.app_version_name,
            "app_version_code": client.app_version_code,
            "app_package_name": client.app_package_name,
        },
    }


def context_fields(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "identity": [
            context.identity.cognito_identity_id,
            context.identity.cognito_identity_pool_id,
        ],
        "client_context": _client_context(context.client_context),
    }


def environ(event, context):
    return {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path": sys.path[:3],
        "python": "%d.%d" % sys.version_info[:2],
    }


def state(event, context):
    global COUNTER
    COUNTER += 1
    tmp = os.environ.get("TMPDIR", "/tmp")
    with open(os.path.join(tmp, "visits"), "a") as f:
        f.write(context.aws_request_id + "\n")
    with open(os.path.join(tmp, "visits")) as f:
        visits = len(f.read().splitlines())
    return {"counter": COUNTER, "visits": visits, "pid": os.getpid(),
            "stream": context.log_stream_name, "started": STARTED}


def sleep(event, context):
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "stream": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis()}


def say(event, context):
    for line in event["lines"]:
        print(line)
    logging.getLogger("probe").warning("logged %s", event["lines"][0])
    sys.stderr.write("to stderr\n")
    return len(event["lines"])


def fail(event, context):
    raise ValueError(event.get("message", "it broke"))


def big(event, context):
    return "x" * event["size"]


def raw(event, context):
    return b"\x00\x01raw bytes\xff"


def unmarshallable(event, context):
    return {"a set": {1, 2, 3}}


def exit(event, context):
    print("about to exit")
    sys.stdout.flush()
    os._exit(event.get("status", 3))


def nothing(event, context):
    return None


def echo(event, context):
    return event


def handler(event, context):
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    return globals()[action](event, context)
"""


def probe_zip(extra: Mapping[str, str] | None = None) -> bytes:
    return make_zip({"app.py": PROBE, **(extra or {})})


@dataclass(slots=True)
class Invoked:
    """One Invoke as the caller sees it."""

    status: int
    payload: bytes
    function_error: str | None
    executed_version: str | None
    request_id: str
    log: str  # the decoded tail ("" unless asked for)
    elapsed: float
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def report(self) -> re.Match[str]:
        match = REPORT_RE.search(self.log)
        assert match is not None, f"no REPORT line in the tail:\n{self.log}"
        return match

    @property
    def cold(self) -> bool:
        return self.report.group("init") is not None


def invoke(
    server: LambdadServer,
    name: str,
    event: Any = None,
    *,
    payload: bytes | None = None,
    tail: bool = True,
    **params: Any,
) -> Invoked:
    client = server.client("lambda")
    body = payload if payload is not None else json.dumps({} if event is None else event).encode()
    started = time.monotonic()
    out = client.invoke(
        FunctionName=name, Payload=body, LogType="Tail" if tail else "None", **params
    )
    data = out["Payload"].read()
    elapsed = time.monotonic() - started
    headers = out["ResponseMetadata"]["HTTPHeaders"]
    # The tail is the last 4 KB in bytes: it may start inside a UTF-8 character.
    raw = base64.b64decode(out["LogResult"]) if "LogResult" in out else b""
    log = raw.decode("utf-8", "replace")
    return Invoked(
        status=out["StatusCode"],
        payload=data,
        function_error=out.get("FunctionError"),
        executed_version=out.get("ExecutedVersion"),
        request_id=headers["x-amzn-requestid"],
        log=log,
        elapsed=elapsed,
        headers=headers,
    )


class Deployer:
    """Creates functions on one server and deletes them all at the end."""

    def __init__(self, server: LambdadServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.names: list[str] = []
        self._stderr_from = len(server.stderr())

    def __call__(
        self,
        code: bytes,
        *,
        runtime: str = "python3.12",
        handler: str = "app.handler",
        name: str | None = None,
        **params: Any,
    ) -> str:
        client = self.server.client("lambda")
        name = name or f"{self.prefix}-{uuid.uuid4().hex[:10]}"
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            # A role of the caller's own account (AWS refuses a cross-account role).
            Role=f"arn:aws:iam::{self.server.credential.account_id}:role/lambda-role",
            Handler=handler,
            Code={"ZipFile": code},
            **params,
        )
        self.names.append(name)
        wait_updated(self.server, name, "function_active_v2")
        return name

    def server_errors(self) -> list[str]:
        """Tracebacks the server logged since this deployer was made.

        A 500 can hide behind a client's retry (botocore's ``max_attempts`` counts
        retries, not attempts), so the server's own log is checked too.
        """
        log = self.server.stderr()[self._stderr_from :]
        return log.split("\nTraceback ")[1:]

    def delete_all(self) -> None:
        client = self.server.client("lambda")
        for name in self.names:
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_function(FunctionName=name)


def wait_updated(server: LambdadServer, name: str, waiter: str = "function_updated_v2") -> None:
    server.client("lambda").get_waiter(waiter).wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )


def log_messages(server: LambdadServer, name: str, pattern: str | None = None) -> list[str]:
    """Every log message of the function's group (optionally matching a filter pattern)."""
    logs = server.client("logs")
    params: dict[str, Any] = {"logGroupName": f"/aws/lambda/{name}"}
    if pattern is not None:
        params["filterPattern"] = pattern
    messages: list[str] = []
    for page in logs.get_paginator("filter_log_events").paginate(**params):
        messages.extend(e["message"] for e in page["events"])
    return messages


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Return once ``condition()`` holds (polled); AssertionError naming ``what`` after
    ``timeout`` seconds. For waiting on something the test can see, not a fixed time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def log_lines_starting(server: LambdadServer, name: str, prefix: str) -> list[str]:
    """The function's log messages that start with ``prefix`` (``START``, ``REPORT``)."""
    return [m for m in log_messages(server, name) if m.startswith(prefix)]


def wait_for_log(server: LambdadServer, name: str, needle: str, timeout: float = 5.0) -> list[str]:
    """The group's messages once one contains ``needle`` (logs are written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = log_messages(server, name)
        if any(needle in m for m in messages):
            return messages
        assert time.monotonic() < deadline, f"{needle!r} never reached the log: {messages}"
        time.sleep(0.05)
