"""The platform's own log lines: Text's START/END/REPORT, or JSON's platform records
filtered by SystemLogLevel."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lambdad.environments.platform_log import PlatformLog
from lambdad.environments.report import Report

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
COLD = Report("rid", 1.234, 128, 40, init_duration_ms=55.25)


def test_text_is_init_start_start_end_report() -> None:
    log = PlatformLog("Text")
    assert log.init_start(AT, "on-demand", "python:3.12.v1", "arn") == [
        "INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: arn"
    ]
    assert log.start(AT, "rid", "$LATEST") == ["START RequestId: rid Version: $LATEST"]
    assert log.end("rid") == ["END RequestId: rid"]
    assert log.report(AT, COLD)[0].startswith("REPORT RequestId: rid\tDuration: 1.23 ms")


def test_json_records() -> None:
    log = PlatformLog("JSON", "INFO")
    lines = log.init_start(AT, "on-demand", "python:3.12.v1", "arn:x", ("fn", "$LATEST"))
    (init,) = map(json.loads, lines)
    assert init == {
        "time": "2026-01-02T03:04:05.678Z",
        "type": "platform.initStart",
        "record": {
            "initializationType": "on-demand",
            "phase": "init",
            "runtimeVersion": "python:3.12.v1",
            "runtimeVersionArn": "arn:x",
            "functionName": "fn",
            "functionVersion": "$LATEST",
        },
    }
    (start,) = map(json.loads, log.start(AT, "rid", "7"))
    assert start["record"] == {"requestId": "rid", "version": "7"}
    assert log.end("rid") == []
    (report,) = map(json.loads, log.report(AT, COLD))
    assert report["type"] == "platform.report"
    assert report["record"] == {
        "requestId": "rid",
        "metrics": {
            "durationMs": 1.23,
            "billedDurationMs": 2,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 40,
            "initDurationMs": 55.25,
        },
        "status": "success",
    }


def test_json_report_statuses() -> None:
    log = PlatformLog("JSON")
    timed_out = Report("rid", 3000.0, 128, 40, timed_out=True)
    (record,) = map(json.loads, log.report(AT, timed_out))
    assert (record["record"]["status"], record["record"]["errorType"]) == (
        "timeout",
        "Sandbox.Timedout",
    )
    (failed,) = map(json.loads, log.report(AT, Report("rid", 1.0, 128, 40), "ValueError"))
    assert failed["record"]["status"] == "error"
    (init_failed,) = map(
        json.loads, log.init_failure_report(AT, "rid", 12.0, 128, "Runtime.ImportModuleError")
    )
    assert init_failed["record"]["errorType"] == "Runtime.ImportModuleError"
    assert init_failed["record"]["metrics"]["maxMemoryUsedMB"] == 0


def test_system_log_level_above_info_drops_platform_records() -> None:
    for level in ("WARN", "ERROR", "FATAL"):
        log = PlatformLog("JSON", level)
        assert log.start(AT, "rid", "1") == []
        assert log.report(AT, COLD) == []
    assert PlatformLog("JSON", "DEBUG").start(AT, "rid", "1")
    assert PlatformLog("JSON", "TRACE").start(AT, "rid", "1")


def test_a_container_image_names_no_runtime_version() -> None:
    # An image brings its own runtime: no INIT_START line in Text, no runtime members
    # in platform.initStart.
    assert PlatformLog("Text").init_start(AT, "on-demand", "", "") == []
    (line,) = PlatformLog("JSON").init_start(AT, "on-demand", "", "", ("fn", "$LATEST"))
    record = json.loads(line)["record"]
    assert "runtimeVersion" not in record
    assert "runtimeVersionArn" not in record
    assert record["functionName"] == "fn"
