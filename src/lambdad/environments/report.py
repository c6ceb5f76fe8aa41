"""What an invocation says about itself: its log lines and its error documents.

Pure functions over values: the ``START``/``END``/``REPORT`` lines (in AWS's
format, DESIGN.md §1: ``Init Duration`` last and on cold starts only, ``Restore
Duration`` for a SnapStart restore, billed durations rounded up to the
millisecond), the lines a timeout or a runtime exit adds, and the JSON documents
answered for a failed init or invocation. Time comes in as an argument; nothing
here reads a clock, a pipe or a sandbox.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import signal
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdad.environments.runtime_api import MAX_RESPONSE


class OutcomeKind(enum.Enum):
    """How an init or an invocation ended."""

    RESPONSE = "response"  # the runtime posted a response
    ERROR = "error"  # the runtime posted an invocation error
    INIT_ERROR = "init_error"  # the init failed (posted, timed out, bad entrypoint)
    EXIT = "exit"  # the runtime process ended
    TOO_LARGE = "too_large"  # the response passed the payload limit
    TIMEOUT = "timeout"  # the function's timeout passed first


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    # The response, the error document, or (EXIT) how the process ended.
    body: bytes = b""
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What the caller of an invocation gets back for an outcome."""

    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed
    error_type: str | None
    # The environment cannot serve again (timeout, exit, failed init).
    fatal: bool


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of one invocation's ``REPORT`` line."""

    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    # The init's duration on a cold start; None on a warm one.
    init_duration_ms: float | None = None
    # The init was a restore from a SnapStart snapshot.
    restored: bool = False
    timed_out: bool = False


# -- log lines ---------------------------------------------------------------------------


def billed_ms(duration_ms: float) -> int:
    """AWS bills whole milliseconds, rounded up, and at least one."""
    return max(1, math.ceil(duration_ms))


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(r: Report) -> str:
    line = (
        f"REPORT RequestId: {r.request_id}\tDuration: {r.duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms(r.duration_ms)} ms\t"
        f"Memory Size: {r.memory_size_mb} MB\tMax Memory Used: {r.max_memory_used_mb} MB\t"
    )
    init = r.init_duration_ms
    if init is not None and r.restored:
        line += f"Restore Duration: {init:.2f} ms\tBilled Restore Duration: {billed_ms(init)} ms\t"
    elif init is not None:
        line += f"Init Duration: {init:.2f} ms\t"
    if r.timed_out:
        line += "Status: timeout"
    return line


def report_record(r: Report, error_type: str | None = None) -> dict[str, Any]:
    """``platform.report``'s record (a JSON log's and the Telemetry API's): its metrics
    and status."""
    metrics: dict[str, Any] = {
        "durationMs": round(r.duration_ms, 2),
        "billedDurationMs": billed_ms(r.duration_ms),
        "memorySizeMB": r.memory_size_mb,
        "maxMemoryUsedMB": r.max_memory_used_mb,
    }
    if r.init_duration_ms is not None:
        key = "restoreDurationMs" if r.restored else "initDurationMs"
        metrics[key] = round(r.init_duration_ms, 2)
    record: dict[str, Any] = {"requestId": r.request_id, "metrics": metrics}
    if r.timed_out:
        record.update(status="timeout", errorType="Sandbox.Timedout")
    elif error_type is not None:
        record.update(status="error", errorType=error_type)
    else:
        record["status"] = "success"
    return record


def init_failure_report_line(
    request_id: str,
    init_duration_ms: float | None,
    memory_size_mb: int,
    error_type: str | None,
    max_memory_used_mb: int = 0,
) -> str:
    """The ``REPORT`` of an invocation answered by a failed init (the init's duration)."""
    duration = init_duration_ms or 0
    return (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {billed_ms(duration)} ms\tMemory Size: {memory_size_mb} MB\t"
        f"Max Memory Used: {max_memory_used_mb} MB\tStatus: error\tError Type: {error_type}"
    )


def timeout_line(at: datetime, request_id: str, timeout_s: float) -> str:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"


def exit_line(request_id: str, detail: str, error_type: str | None) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: {detail}\n{error_type}"


def exit_detail(returncode: int) -> str:
    """How a runtime process ended, as AWS words it (``exit status 1``, ``signal: killed``)."""
    return f"signal: {_signal_name(-returncode)}" if returncode < 0 else f"exit status {returncode}"


def _signal_name(sig: int) -> str:
    try:
        return {
            signal.SIGKILL: "killed",
            signal.SIGSEGV: "segmentation fault",
            signal.SIGABRT: "aborted",
            signal.SIGTERM: "terminated",
        }.get(signal.Signals(sig), signal.Signals(sig).name.lower())
    except ValueError:
        return f"signal {sig}"


# -- outcomes and error documents --------------------------------------------------------


def _document(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def invalid_entrypoint(problem: str) -> Outcome:
    """The init failure of a runtime that cannot be started (no or no executable bootstrap)."""
    error_type = "Runtime.InvalidEntrypoint"
    return Outcome(
        OutcomeKind.INIT_ERROR, _document(error_type, f"RequestId: - Error: {problem}"), error_type
    )


def init_timeout(init_timeout_s: float) -> Outcome:
    error_type = "Runtime.InitTimeout"
    message = f"INIT phase timed out after {init_timeout_s:.2f} seconds"
    return Outcome(OutcomeKind.INIT_ERROR, _document(error_type, message), error_type)


def extension_init_error(name: str, error_type: str) -> Outcome:
    """The init failure an extension posted to ``/extension/init/error``."""
    message = f"Extension {name} failed to initialize: {error_type}"
    return Outcome(OutcomeKind.INIT_ERROR, _document(error_type, message), error_type)


def posted_init_error(body: bytes, error_type: str | None) -> Outcome:
    """The init failure a runtime posted to ``/runtime/init/error``."""
    return Outcome(
        OutcomeKind.INIT_ERROR, error_payload(body, error_type), error_type or "Runtime.Unknown"
    )


def posted_error(body: bytes, error_type: str | None) -> Outcome:
    """The invocation error a runtime posted to ``/runtime/invocation/<id>/error``."""
    return Outcome(OutcomeKind.ERROR, error_payload(body, error_type), error_type)


def streamed_error(error_type: str | None, error_body: str | None) -> Outcome:
    """The error a runtime reported in a streamed response's trailers (its body base64,
    as awslambdaric and AWS's Node.js runtime send it)."""
    try:
        body = base64.b64decode(error_body or "", validate=True)
    except (binascii.Error, ValueError):
        body = (error_body or "").encode("utf-8", "replace")
    return Outcome(OutcomeKind.ERROR, error_payload(body, error_type), error_type)


def runtime_exit(returncode: int) -> Outcome:
    return Outcome(OutcomeKind.EXIT, exit_detail(returncode).encode(), "Runtime.ExitError")


def error_payload(body: bytes, error_type: str | None) -> bytes:
    """A posted error body as the caller gets it: a JSON object passes as sent; anything
    else becomes the message of a document typed ``error_type``."""
    try:
        doc = json.loads(body) if body else None
    except (ValueError, RecursionError):  # whatever the function sent
        doc = None
    if isinstance(doc, dict):
        return body
    return json.dumps(
        {
            "errorMessage": body.decode("utf-8", "replace"),
            "errorType": error_type or "Runtime.Unknown",
        }
    ).encode()


def answer(outcome: Outcome, request_id: str, timeout_s: float, *, oom: bool) -> Answer:
    """The answer to an invocation that ended with ``outcome`` (``oom``: the runtime's
    exit was the out-of-memory killer's doing)."""
    kind = outcome.kind
    if kind is OutcomeKind.RESPONSE:
        return Answer(outcome.body, None, None, False)
    if kind is OutcomeKind.ERROR:
        return Answer(outcome.body, "Unhandled", outcome.error_type, False)
    if kind is OutcomeKind.TOO_LARGE:
        # The limit passed: a stream's (its body names it) or a buffered response's.
        limit = int(outcome.body) if outcome.body.isdigit() else MAX_RESPONSE
        body = json.dumps(
            {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({limit} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
        ).encode()
        return Answer(body, "Unhandled", "Function.ResponseSizeTooLarge", False)
    if kind is OutcomeKind.TIMEOUT:
        message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
        return Answer(_document("Sandbox.Timedout", message), "Unhandled", "Sandbox.Timedout", True)
    # The runtime exited (crash, os._exit, killed by the OOM killer...).
    error_type = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
    message = f"RequestId: {request_id} Error: Runtime exited with error: {outcome.body.decode()}"
    return Answer(_document(error_type, message), "Unhandled", error_type, True)


def init_failure_answer(init_error: Outcome, request_id: str) -> Answer:
    """The answer to every invocation of an environment whose init failed."""
    if init_error.kind is OutcomeKind.EXIT:
        error_type = "Runtime.ExitError"
        message = (
            f"RequestId: {request_id} Error: Runtime exited with error: {init_error.body.decode()}"
        )
        return Answer(_document(error_type, message), "Unhandled", error_type, True)
    return Answer(init_error.body, "Unhandled", init_error.error_type, True)


def init_error_type(init_error: Outcome) -> str:
    return init_error.error_type or "Runtime.ExitError"


def init_error_message(init_error: Outcome) -> str:
    """Why an init failed, as its error document says."""
    if init_error.kind is OutcomeKind.EXIT:
        return f"Runtime exited with error: {init_error.body.decode('utf-8', 'replace')}"
    try:
        doc = json.loads(init_error.body)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict) and doc.get("errorMessage"):
        return f"{doc.get('errorType') or init_error.error_type}: {doc['errorMessage']}"
    return init_error.error_type or "the init failed"
