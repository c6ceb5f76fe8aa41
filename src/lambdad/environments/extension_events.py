"""The documents of the Extensions API 2020-01-01, as AWS shapes them. Pure."""

from __future__ import annotations

import json
from typing import Any

# How long external extensions have to finish after SHUTDOWN (AWS: 2,000 ms).
SHUTDOWN_DEADLINE_S = 2.0
# SHUTDOWN's shutdownReason values.
SPINDOWN, TIMEOUT, FAILURE = "spindown", "timeout", "failure"


def register_body(
    function_name: str, version: str, handler: str, account: str | None
) -> dict[str, Any]:
    """What ``register`` answers; ``accountId`` only when the extension asked for it
    (``Lambda-Extension-Accept-Feature: accountId``)."""
    body: dict[str, Any] = {
        "functionName": function_name,
        "functionVersion": version,
        "handler": handler,
    }
    if account is not None:
        body["accountId"] = account
    return body


def invoke_event(request_id: str, deadline_ms: int, function_arn: str, trace_id: str) -> bytes:
    return json.dumps(
        {
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": function_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
        }
    ).encode()


def shutdown_event(reason: str, deadline_ms: int) -> bytes:
    return json.dumps(
        {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
    ).encode()


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


STATUS_OK = b'{"status":"OK"}'
