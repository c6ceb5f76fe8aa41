"""The Telemetry API's records (schema 2022-12-13), as AWS shapes them. Pure.

Every record is ``{"time", "type", "record"}``: ``time`` in ISO 8601 with milliseconds
and ``Z``; ``record`` an object for ``platform.*`` events and the log line itself for
``function`` and ``extension`` ones.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from lambdad.environments import report


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def encode(at: datetime, kind: str, record: Any) -> bytes:
    return json.dumps({"time": stamp(at), "type": kind, "record": record}).encode()


def tracing(trace_id: str) -> dict[str, str]:
    return {"type": "X-Amzn-Trace-Id", "value": trace_id}


def init_runtime_done(initialization_type: str, error_type: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "initializationType": initialization_type,
        "phase": "init",
        "status": "success" if error_type is None else "error",
    }
    if error_type is not None:
        record["errorType"] = error_type
    return record


def init_report(
    initialization_type: str, duration_ms: float, error_type: str | None
) -> dict[str, Any]:
    record = init_runtime_done(initialization_type, error_type)
    record["metrics"] = {"durationMs": round(duration_ms, 3)}
    return record


def start(request_id: str, version: str, trace_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {"requestId": request_id, "version": version}
    if trace_id:
        record["tracing"] = tracing(trace_id)
    return record


def runtime_done(
    request_id: str,
    status: str,
    started: datetime,
    duration_ms: float,
    produced_bytes: int,
    error_type: str | None,
    trace_id: str,
) -> dict[str, Any]:
    """``platform.runtimeDone``: the runtime's part of an invocation, its response's size,
    and the spans AWS reports (``responseLatency``: until the response began;
    ``responseDuration``: its transfer — both within the runtime's duration here)."""
    record: dict[str, Any] = {
        "requestId": request_id,
        "status": status,
        "metrics": {"durationMs": round(duration_ms, 3), "producedBytes": produced_bytes},
        "spans": [
            {
                "name": "responseLatency",
                "start": stamp(started),
                "durationMs": round(duration_ms, 3),
            },
            {
                "name": "responseDuration",
                "start": stamp(started + timedelta(milliseconds=duration_ms)),
                "durationMs": 0.0,
            },
        ],
    }
    if error_type is not None:
        record["errorType"] = error_type
    if trace_id:
        record["tracing"] = tracing(trace_id)
    return record


def platform_report(r: report.Report, error_type: str | None, trace_id: str) -> dict[str, Any]:
    record = report.report_record(r, error_type)
    if trace_id:
        record["tracing"] = tracing(trace_id)
    return record


def extension(name: str, events: frozenset[str]) -> dict[str, Any]:
    """``platform.extension``: an extension registered (written once the init ends)."""
    return {"name": name, "state": "Ready", "events": sorted(events)}


def subscription(name: str, types: frozenset[str]) -> dict[str, Any]:
    """``platform.telemetrySubscription``: an extension subscribed."""
    return {"name": name, "state": "Subscribed", "types": sorted(types)}


def status_of(error_type: str | None, timed_out: bool) -> str:
    if timed_out:
        return "timeout"
    return "success" if error_type is None else "error"
