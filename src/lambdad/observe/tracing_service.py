"""The X-Ray operations lambdad answers, over the trace store, per (account, region).

``PutTraceSegments`` (each document checked; the refused ones come back as
``UnprocessedTraceSegments``), ``GetTraceSummaries`` (traces that started in the time
range and match the filter, newest first, 100 a page), ``BatchGetTraces`` and
``GetTraceGraph``. Pages are numbered by an opaque token.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from lambdad.errors import AwsError
from lambdad.model.scope import Scope
from lambdad.observe import tracing_queries as queries
from lambdad.observe.tracing_filter import FilterError, compile_filter
from lambdad.observe.tracing_store import TraceStore, problem

PAGE = 100
MAX_DOCUMENT = 64 * 1024  # X-Ray's limit for one segment document


class InvalidRequestException(AwsError):
    status = 400
    message_key = "Message"


class TracingService:
    def __init__(self, store: TraceStore) -> None:
        self.store = store

    def put_segments(self, scope: Scope, documents: Sequence[str]) -> list[dict[str, str]]:
        kept: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        for text in documents:
            why: str | None
            doc: Any = None
            if len(text) > MAX_DOCUMENT:
                why = "Segment document is too large"
            else:
                try:
                    doc = json.loads(text)
                    why = problem(doc)
                except (ValueError, RecursionError):
                    why = "Invalid segment document"
            if why is None:
                kept.append(doc)
            else:
                seg_id = doc.get("id") if isinstance(doc, dict) else None
                refused.append(
                    {"Id": str(seg_id or ""), "ErrorCode": "InvalidSegment", "Message": why}
                )
        self.store.put(scope, kept)
        return refused

    def summaries(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        start, end = float(params["StartTime"]), float(params["EndTime"])
        if end < start:
            raise InvalidRequestException("EndTime must be after StartTime")
        try:
            keep = compile_filter(params.get("FilterExpression"))
        except FilterError as exc:
            raise InvalidRequestException(str(exc)) from None
        found = []
        for trace in self.store.all(scope):
            s = queries.summary(trace)
            if s is not None and start <= s["StartTime"] <= end and keep(s):
                found.append(s)
        found.sort(key=lambda s: s["StartTime"], reverse=True)
        at = _page_start(params.get("NextToken"))
        out: dict[str, Any] = {
            "TraceSummaries": found[at : at + PAGE],
            "ApproximateTime": end,
            "TracesProcessedCount": len(found),
        }
        if at + PAGE < len(found):
            out["NextToken"] = _token(at + PAGE)
        return out

    def batch_get(self, scope: Scope, trace_ids: Sequence[str]) -> dict[str, Any]:
        traces = self.store.get(scope, trace_ids)
        found = {t.trace_id for t in traces}
        return {
            "Traces": [queries.whole(t) for t in traces],
            "UnprocessedTraceIds": [i for i in trace_ids if i not in found],
        }

    def graph(self, scope: Scope, trace_ids: Sequence[str]) -> dict[str, Any]:
        return {"Services": queries.graph(self.store.get(scope, trace_ids))}


def _token(at: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"at": at}).encode()).decode()


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        at = json.loads(base64.urlsafe_b64decode(token.encode()))["at"]
    except (ValueError, KeyError, TypeError):
        raise InvalidRequestException("Invalid NextToken") from None
    if not isinstance(at, int) or at < 0:
        raise InvalidRequestException("Invalid NextToken")
    return at
