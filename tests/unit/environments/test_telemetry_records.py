"""The Telemetry API's records as AWS shapes them, and the host that routes them."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime

from lambdad.clock import FakeClock
from lambdad.environments import report, telemetry_records
from lambdad.environments.extension_host import EXTENSION_MARK, ExtensionsHost
from lambdad.environments.extensions import FunctionIdentity

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def test_every_record_has_time_type_and_record() -> None:
    encoded = json.loads(telemetry_records.encode(AT, "function", "hello"))
    assert encoded == {"time": "2026-01-02T03:04:05.678Z", "type": "function", "record": "hello"}


def test_runtime_done_carries_metrics_spans_and_tracing() -> None:
    record = telemetry_records.runtime_done("req", "success", AT, 12.5, 42, None, "Root=1-x")
    assert record["metrics"] == {"durationMs": 12.5, "producedBytes": 42}
    assert [s["name"] for s in record["spans"]] == ["responseLatency", "responseDuration"]
    assert record["spans"][0]["start"] == "2026-01-02T03:04:05.678Z"
    assert record["tracing"] == {"type": "X-Amzn-Trace-Id", "value": "Root=1-x"}
    failed = telemetry_records.runtime_done("req", "error", AT, 1.0, 0, "Runtime.Boom", "")
    assert failed["errorType"] == "Runtime.Boom"
    assert "tracing" not in failed


def test_report_metrics_are_the_report_lines() -> None:
    figures = report.Report("req", 10.01, 128, 40, init_duration_ms=80.5)
    record = telemetry_records.platform_report(figures, None, "")
    assert record == {
        "requestId": "req",
        "status": "success",
        "metrics": {
            "durationMs": 10.01,
            "billedDurationMs": 11,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 40,
            "initDurationMs": 80.5,
        },
    }


def test_init_records() -> None:
    assert telemetry_records.init_report("on-demand", 100.0, None) == {
        "initializationType": "on-demand",
        "phase": "init",
        "status": "success",
        "metrics": {"durationMs": 100.0},
    }
    assert telemetry_records.init_runtime_done("on-demand", "Extension.Bad")["status"] == "error"


def test_an_extension_s_lines_are_logged_unmarked() -> None:
    async def scenario() -> list[str]:
        logged: list[str] = []

        async def refuse(port: int) -> socket.socket:
            raise OSError("no listener")

        host = ExtensionsHost(
            "env", FunctionIdentity("f", "1", "h", "1"), (), FakeClock(), logged.append, refuse
        )
        host.output(EXTENSION_MARK + "from the extension")
        host.output("from the function")
        assert host.serves("/2020-01-01/extension/register")
        assert host.serves("/2022-07-01/telemetry")
        assert not host.serves("/2018-06-01/runtime/invocation/next")
        reply = await host.handle("GET", "/2020-01-01/extension/nothing", {}, b"")
        assert reply.status == 404
        host.close()
        return logged

    assert asyncio.run(scenario()) == ["from the extension", "from the function"]


def test_the_log_names_each_extension_and_subscription_as_aws_does() -> None:
    from lambdad.environments.platform_log import PlatformLog

    text = PlatformLog()
    assert text.extension(AT, "rec", frozenset({"SHUTDOWN", "INVOKE"})) == [
        "EXTENSION\tName: rec\tState: Ready\tEvents: [INVOKE,SHUTDOWN]"
    ]
    assert text.subscription(AT, "rec", frozenset({"platform", "function"})) == [
        "TELEMETRY\tName: rec\tState: Subscribed\tTypes: [Function, Platform]"
    ]
    (line,) = PlatformLog("JSON").extension(AT, "rec", frozenset({"INVOKE"}))
    assert json.loads(line) == {
        "time": "2026-01-02T03:04:05.678Z",
        "type": "platform.extension",
        "record": {"name": "rec", "state": "Ready", "events": ["INVOKE"]},
    }


def test_the_launcher_s_wait_ends_once_every_external_extension_registered() -> None:
    from lambdad.environments.extension_host import REGISTERED_PATH

    async def scenario() -> None:
        async def refuse(port: int) -> socket.socket:
            raise OSError("no listener")

        who = FunctionIdentity("f", "1", "h", "1")
        host = ExtensionsHost("env", who, ("ext",), FakeClock(), [].append, refuse)
        waiting = asyncio.create_task(host.handle("GET", REGISTERED_PATH, {}, b""))
        await asyncio.sleep(0)
        assert not waiting.done()
        body = json.dumps({"events": ["INVOKE"]}).encode()
        await host.handle(
            "POST", "/2020-01-01/extension/register", {"lambda-extension-name": "ext"}, body
        )
        assert (await waiting).status == 200
        host.close()

    asyncio.run(scenario())
