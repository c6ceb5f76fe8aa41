"""Reading traces as X-Ray's API answers: summaries, whole traces, the service graph.

Pure functions over ``Trace`` values (``observe/tracing_store.py``); the API adapter
(``api/xray_api.py``) parses requests and pages. A summary's time is its earliest
segment's start; its duration runs to the latest end; ``HasError``/``HasFault``/
``HasThrottle`` are set when any segment or subsegment carries the flag. Filter
expressions: ``tracing_filter.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lambdad.observe.tracing_store import Trace

Doc = dict[str, Any]


def _walk(doc: Doc) -> Iterator[Doc]:
    yield doc
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            yield from _walk(sub)


def _bounds(segments: list[Doc]) -> tuple[float, float]:
    starts = [float(s["start_time"]) for s in segments]
    ends = [float(s.get("end_time") or s["start_time"]) for s in segments]
    return min(starts), max(ends)


def _service(doc: Doc) -> Doc:
    account = (doc.get("aws") or {}).get("account_id")
    out: Doc = {"Name": doc["name"], "Names": [doc["name"]], "Type": doc.get("origin", "")}
    if account:
        out["AccountId"] = account
    return out


def summary(trace: Trace) -> Doc | None:
    """X-Ray's ``TraceSummary`` of a trace (None: no whole segment yet)."""
    segments = trace.segments()
    if not segments:
        return None
    start, end = _bounds(segments)
    every = [d for s in segments for d in _walk(s)]
    entry = next((s for s in segments if not s.get("parent_id")), segments[0])
    status = ((entry.get("http") or {}).get("response") or {}).get("status")
    annotations: dict[str, list[Doc]] = {}
    for d in every:
        for key, value in (d.get("annotations") or {}).items():
            annotations.setdefault(key, []).append({"AnnotationValue": _annotation(value)})
    out: Doc = {
        "Id": trace.trace_id,
        "StartTime": start,
        "Duration": round(end - start, 3),
        "ResponseTime": round(float(entry.get("end_time") or end) - float(entry["start_time"]), 3),
        "HasFault": any(d.get("fault") for d in every),
        "HasError": any(d.get("error") for d in every),
        "HasThrottle": any(d.get("throttle") for d in every),
        "IsPartial": False,
        "EntryPoint": _service(entry),
        "ServiceIds": [_service(s) for s in segments],
        "ResourceARNs": [{"ARN": s["resource_arn"]} for s in segments if s.get("resource_arn")],
        "Annotations": annotations,
        "Users": [],
        "Revision": len(trace.docs),
        "MatchedEventTime": start,
    }
    if status is not None:
        out["Http"] = {"HttpStatus": status}
    return out


def _annotation(value: Any) -> Doc:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int | float):
        return {"NumberValue": value}
    return {"StringValue": str(value)}


def whole(trace: Trace) -> Doc:
    """X-Ray's ``Trace``: its segments as JSON documents."""
    segments = trace.segments()
    duration = 0.0
    if segments:
        start, end = _bounds(segments)
        duration = round(end - start, 3)
    return {
        "Id": trace.trace_id,
        "Duration": duration,
        "LimitExceeded": False,
        "Segments": [{"Id": s["id"], "Document": json.dumps(s)} for s in segments],
    }


def graph(traces: list[Trace]) -> list[Doc]:
    """The service graph of ``traces``: one node per (name, origin), edges from a
    segment's node to its children's."""
    nodes: dict[tuple[str, str], Doc] = {}
    edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for trace in traces:
        segments = trace.segments()
        by_id = {s["id"]: s for s in segments}
        for s in segments:
            key = (s["name"], s.get("origin", ""))
            node = nodes.get(key)
            if node is None:
                node = nodes[key] = {
                    **_service(s),
                    "ReferenceId": len(nodes),
                    "State": "active",
                    "StartTime": float(s["start_time"]),
                    "EndTime": float(s.get("end_time") or s["start_time"]),
                    "Root": not s.get("parent_id"),
                    "SummaryStatistics": {"TotalCount": 0, "OkCount": 0, "TotalResponseTime": 0.0},
                }
            stats = node["SummaryStatistics"]
            stats["TotalCount"] += 1
            stats["OkCount"] += 0 if (s.get("fault") or s.get("error")) else 1
            stats["TotalResponseTime"] += float(s.get("end_time") or s["start_time"]) - float(
                s["start_time"]
            )
            node["StartTime"] = min(node["StartTime"], float(s["start_time"]))
            parent = by_id.get(str(s.get("parent_id")))
            if parent is not None:
                pkey = (parent["name"], parent.get("origin", ""))
                edges.setdefault(pkey, set()).add(key)
    for key, node in nodes.items():
        node["Edges"] = [
            {"ReferenceId": nodes[c]["ReferenceId"]} for c in sorted(edges.get(key, ()))
        ]
    return list(nodes.values())
