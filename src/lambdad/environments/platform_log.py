"""What the platform itself writes in a function's log, in the function's log format.

With ``LoggingConfig.LogFormat`` ``Text`` (the default): ``INIT_START`` (the runtime
version and its ARN) when an environment's init begins, and the ``START``, ``END`` and
``REPORT`` lines (``report.py``). With ``JSON``: AWS's JSON system records instead,
one object per line, ``{"time", "type", "record"}``: ``platform.initStart`` when an
environment's init begins, ``platform.start`` and ``platform.report`` (its metrics and
status) per invocation; no ``END`` (AWS writes none in JSON). They are INFO-level
records: a ``SystemLogLevel`` above INFO (WARN, ERROR, FATAL) leaves them out.

Pure: each method returns the lines to write (none, when filtered), given the time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lambdad.environments import report

# SystemLogLevel values, least severe first (AWS's enum: TRACE is finer than DEBUG).
_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def init_start_record(
    initialization_type: str, runtime: str, runtime_arn: str, function: tuple[str, str]
) -> dict[str, str]:
    """``platform.initStart``'s record, in the log and on the Telemetry API alike."""
    record = {"initializationType": initialization_type, "phase": "init"}
    if runtime:
        # None for a container image, which brings its own runtime (the schema's
        # runtime members are optional).
        record.update(runtimeVersion=runtime, runtimeVersionArn=runtime_arn)
    name, version = function
    if name:
        record.update(functionName=name, functionVersion=version)
    return record


class PlatformLog:
    """The platform's lines for one environment (``log_format``: Text or JSON)."""

    def __init__(self, log_format: str = "Text", system_log_level: str = "INFO") -> None:
        self.json = log_format == "JSON"
        level = system_log_level.upper() if system_log_level else "INFO"
        rank = _LEVELS.index(level) if level in _LEVELS else _LEVELS.index("INFO")
        # Every platform record is INFO: written unless the level asks for less.
        self._info = rank <= _LEVELS.index("INFO")

    def init_start(
        self,
        at: datetime,
        initialization_type: str,
        runtime: str,
        runtime_arn: str,
        function: tuple[str, str] = ("", ""),
    ) -> list[str]:
        """``function``: its name and version, which AWS's JSON record names last."""
        if not self.json:
            if not runtime:
                return []  # a container image: no managed runtime version to name
            return [f"INIT_START Runtime Version: {runtime}\tRuntime Version ARN: {runtime_arn}"]
        record = init_start_record(initialization_type, runtime, runtime_arn, function)
        return self._record(at, "platform.initStart", record)

    def extension(self, at: datetime, name: str, events: frozenset[str]) -> list[str]:
        """An extension registered (written as the init ends, as on AWS)."""
        if not self.json:
            listed = ",".join(sorted(events))
            return [f"EXTENSION\tName: {name}\tState: Ready\tEvents: [{listed}]"]
        record = {"name": name, "state": "Ready", "events": sorted(events)}
        return self._record(at, "platform.extension", record)

    def subscription(self, at: datetime, name: str, types: frozenset[str]) -> list[str]:
        """An extension subscribed to the Telemetry API."""
        if not self.json:
            listed = ", ".join(t.capitalize() for t in sorted(types))
            return [f"TELEMETRY\tName: {name}\tState: Subscribed\tTypes: [{listed}]"]
        record = {"name": name, "state": "Subscribed", "types": sorted(types)}
        return self._record(at, "platform.telemetrySubscription", record)

    def start(self, at: datetime, request_id: str, version: str) -> list[str]:
        if not self.json:
            return [report.start_line(request_id, version)]
        return self._record(at, "platform.start", {"requestId": request_id, "version": version})

    def end(self, request_id: str) -> list[str]:
        return [] if self.json else [report.end_line(request_id)]

    def report(self, at: datetime, r: report.Report, error_type: str | None = None) -> list[str]:
        if not self.json:
            return [report.report_line(r)]
        record = report.report_record(r, error_type)
        return self._record(at, "platform.report", record)

    def init_failure_report(
        self,
        at: datetime,
        request_id: str,
        init_duration_ms: float | None,
        memory_size_mb: int,
        error_type: str | None,
        max_memory_used_mb: int = 0,
    ) -> list[str]:
        if not self.json:
            return [
                report.init_failure_report_line(
                    request_id, init_duration_ms, memory_size_mb, error_type, max_memory_used_mb
                )
            ]
        duration = init_duration_ms or 0.0
        metrics = {
            "durationMs": round(duration, 2),
            "billedDurationMs": report.billed_ms(duration),
            "memorySizeMB": memory_size_mb,
            "maxMemoryUsedMB": max_memory_used_mb,
        }
        record = {
            "requestId": request_id,
            "metrics": metrics,
            "status": "error",
            "errorType": error_type or "Runtime.Unknown",
        }
        return self._record(at, "platform.report", record)

    def _record(self, at: datetime, kind: str, record: dict[str, Any]) -> list[str]:
        if not self._info:
            return []
        time = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return [json.dumps({"time": time, "type": kind, "record": record})]
