"""Structured logging as AWS does it: with ``LoggingConfig.LogFormat`` JSON a Python and
a Node.js function's log records are JSON objects (levels filtered by
``ApplicationLogLevel``), print() lines stay as they are, and the platform writes
``platform.initStart``/``platform.start``/``platform.report`` records (filtered by
``SystemLogLevel``) instead of START/END/REPORT, in the custom log group.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from e2e.helpers import LambdadServer, make_zip

NewFunction = Callable[..., dict[str, Any]]

PYTHON = """
import logging, os
logger = logging.getLogger("orders")

def handler(event, context):
    logger.info("hidden at WARN")
    logger.warning("low stock", extra={"sku": "A-1"})
    try:
        raise ValueError("bad sku")
    except ValueError:
        logger.exception("lookup failed")
    print("plain text")
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL")}
"""

NODE = """
exports.handler = async () => {
  console.info('hidden at WARN');
  console.warn('low stock', 3);
  console.error(new Error('bad sku'));
  return process.env.AWS_LAMBDA_LOG_LEVEL;
};
"""


def _events(server: LambdadServer, group: str, count: int) -> list[str]:
    logs = server.client("logs")
    deadline = time.monotonic() + 10
    while True:
        events = logs.filter_log_events(logGroupName=group)["events"]
        messages = [e["message"].rstrip("\n") for e in events]
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)


def _records(messages: list[str]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in messages if m.startswith("{")]


def test_python_json_logs_in_a_custom_group(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    group = f"/custom/{unique_name('grp')}"
    name = new_function(
        make_zip({"app.py": PYTHON}),
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "LogGroup": group},
    )["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name)
    request_id = out["ResponseMetadata"]["RequestId"]
    assert json.loads(out["Payload"].read()) == {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
    }

    messages = _events(lambdad, group, 6)
    assert "plain text" in messages
    assert not any(m.startswith(("START", "END", "REPORT")) for m in messages)
    records = _records(messages)
    kinds = [r.get("type") for r in records if "type" in r]
    assert kinds == ["platform.initStart", "platform.start", "platform.report"]
    (init,) = (r for r in records if r.get("type") == "platform.initStart")
    assert (init["record"]["functionName"], init["record"]["functionVersion"]) == (name, "$LATEST")
    start, report = (r for r in records if r.get("type") in ("platform.start", "platform.report"))
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) >= {
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    }

    app = [r for r in records if "level" in r]
    assert [r["message"] for r in app] == ["low stock", "lookup failed"]
    warning, failure = app
    assert warning["level"] == "WARNING"  # Python's name, as awslambdaric writes it
    assert warning["logger"] == "orders"
    assert warning["requestId"] == request_id
    assert warning["sku"] == "A-1"
    assert warning["timestamp"].endswith("Z")
    assert failure["errorType"] == "ValueError"
    assert failure["errorMessage"] == "bad sku"
    assert failure["stackTrace"]
    # Nothing went to the default group.
    logs = lambdad.client("logs")
    assert not logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]


def test_node_json_logs_and_system_level(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    group = f"/custom/{unique_name('node')}"
    name = new_function(
        make_zip({"index.js": NODE}),
        Runtime="nodejs20.x",
        Handler="index.handler",
        LoggingConfig={
            "LogFormat": "JSON",
            "ApplicationLogLevel": "WARN",
            "SystemLogLevel": "WARN",
            "LogGroup": group,
        },
    )["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name)
    request_id = out["ResponseMetadata"]["RequestId"]
    assert json.loads(out["Payload"].read()) == "WARN"

    records = _records(_events(lambdad, group, 2))
    # SystemLogLevel WARN: no platform record at all.
    assert not [r for r in records if "type" in r]
    assert len(records) == 2
    warning, failure = records
    assert (warning["level"], warning["message"]) == ("WARN", "low stock 3")
    assert failure["level"] == "ERROR"
    assert failure["requestId"] == request_id
    assert failure["message"]["errorType"] == "Error"
    assert failure["message"]["errorMessage"] == "bad sku"

    # The AWS CLI finds the JSON records, by a JSON filter pattern too.
    found = lambdad.aws(
        "logs",
        "filter-log-events",
        "--log-group-name",
        group,
        "--filter-pattern",
        '{ $.level = "ERROR" }',
    )
    assert [json.loads(e["message"])["requestId"] for e in found["events"]] == [request_id]
