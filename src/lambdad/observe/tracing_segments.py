"""The segment documents Lambda records for a traced invocation (pure).

Under ``TracingConfig: Active`` (and a sampled trace), Lambda sends two segments: the
service's (``origin: AWS::Lambda``: the request as Lambda received it, from before the
concurrency check to the answer, hung under the caller's segment when the caller sent
a Parent) and the function's (``origin: AWS::Lambda::Function``, a child of the first),
with the subsegments ``Initialization`` (cold starts only), ``Invocation`` (the handler)
and ``Overhead`` (from the response to the end). Times are epoch seconds, as X-Ray's.
X-Ray's flags: ``error`` (4xx), ``throttle`` (429, with ``error``) and ``fault`` (5xx, or a
function error).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from lambdad.observe import tracing_ids
from lambdad.observe.tracing_ids import Decision

SERVICE_ORIGIN = "AWS::Lambda"
FUNCTION_ORIGIN = "AWS::Lambda::Function"


@dataclass(frozen=True, slots=True)
class InvocationTiming:
    request_id: str
    function_name: str
    function_arn: str  # the ARN invoked (with its qualifier, if any)
    account: str
    started: float  # epoch seconds: the request reached the invoke path
    ended: float  # the answer was back
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # cold starts only
    function_error: str | None = None
    error_type: str | None = None
    throttled: bool = False


def invocation_segments(
    t: InvocationTiming, decision: Decision, rand: random.Random | None = None
) -> list[dict[str, Any]]:
    """The service segment, then the function's (none for a throttled request)."""
    ids = rand if rand is not None else tracing_ids.default_random()

    def new_id() -> str:
        return tracing_ids.new_id(ids)

    root = decision.header.root
    service_id = new_id()
    service: dict[str, Any] = {
        "trace_id": root,
        "id": service_id,
        "name": t.function_name,
        "origin": SERVICE_ORIGIN,
        "start_time": t.started,
        "end_time": t.ended,
        "resource_arn": t.function_arn,
        "http": {"response": {"status": 429 if t.throttled else 200}},
        "aws": {"request_id": t.request_id, "account_id": t.account},
    }
    if decision.caller_parent:
        service["parent_id"] = decision.caller_parent
    if t.throttled:
        service["error"] = True
        service["throttle"] = True
        return [service]
    invocation_end = t.ended
    invocation_start = max(t.started, invocation_end - t.duration_ms / 1000)
    subsegments: list[dict[str, Any]] = []
    if t.init_duration_ms is not None:
        init_start = max(t.started, invocation_start - t.init_duration_ms / 1000)
        subsegments.append(_sub(new_id(), "Initialization", init_start, invocation_start))
    invocation = _sub(new_id(), "Invocation", invocation_start, invocation_end)
    subsegments.append(invocation)
    subsegments.append(_sub(new_id(), "Overhead", invocation_end, t.ended))
    function: dict[str, Any] = {
        "trace_id": root,
        "id": decision.segment_id,
        "parent_id": service_id,
        "name": t.function_name,
        "origin": FUNCTION_ORIGIN,
        "start_time": subsegments[0]["start_time"],
        "end_time": t.ended,
        "resource_arn": t.function_arn,
        "aws": {
            "function_arn": t.function_arn,
            "resource_names": [t.function_name],
            "account_id": t.account,
            "request_id": t.request_id,
            "cold_start": t.init_duration_ms is not None,
        },
        "subsegments": subsegments,
    }
    if t.function_error is not None:
        cause = {
            "exceptions": [
                {"id": new_id(), "type": t.error_type or "Error", "message": t.function_error}
            ]
        }
        for doc in (function, invocation):
            doc["fault"] = True
        invocation["cause"] = cause
    return [service, function]


def _sub(seg_id: str, name: str, start: float, end: float) -> dict[str, Any]:
    return {"id": seg_id, "name": name, "start_time": start, "end_time": max(start, end)}
