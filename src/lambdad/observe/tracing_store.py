"""Where trace segments are kept: in memory, per account and region, newest traces last.

Segments come from three places: what lambdad records for an ``Active`` function
(``invoke/tracing.py``), what functions send to the X-Ray daemon port
(``observe/tracing_daemon.py``), and ``PutTraceSegments``. Each is kept under the
(account, region) it belongs to; nothing one account puts is visible to another.
Subsegments sent on their own (``"type": "subsegment"``, as the X-Ray SDK sends them
from Lambda under the function segment's id) are kept beside the segments and merged
under their parent when a trace is read. At most ``max_traces`` traces are kept per
(account, region): the oldest go first. ``on_put`` hears of every accepted segment
(the OpenTelemetry exporter).
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdad.model.scope import Scope

_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID = re.compile(r"[0-9a-f]{16}")

# Documents kept per trace (X-Ray caps a trace's size too): a trace id any caller can
# name must not grow without bound.
MAX_DOCS_PER_TRACE = 1000

OnPut = Callable[[Scope, list[dict[str, Any]]], None]


@dataclass(slots=True)
class Trace:
    trace_id: str
    docs: list[dict[str, Any]] = field(default_factory=list)

    def segments(self) -> list[dict[str, Any]]:
        """The segments, each with the subsegments sent on their own merged in."""
        whole = [copy.deepcopy(d) for d in self.docs if d.get("type") != "subsegment"]
        loose = [copy.deepcopy(d) for d in self.docs if d.get("type") == "subsegment"]
        by_id: dict[str, dict[str, Any]] = {}
        for doc in whole:
            _index(doc, by_id)
        for sub in sorted(loose, key=lambda d: float(d.get("start_time", 0))):
            by_id[sub["id"]] = sub
        for sub in loose:
            parent = by_id.get(str(sub.get("parent_id")))
            if parent is not None and parent is not sub:
                sub.pop("type", None)
                sub.pop("trace_id", None)
                sub.pop("parent_id", None)
                parent.setdefault("subsegments", []).append(sub)
        return whole


def _index(doc: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> None:
    by_id[str(doc.get("id"))] = doc
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict):
            _index(sub, by_id)


# How deep subsegments may nest (each level is walked when a trace is read).
MAX_DEPTH = 32
_MAPS = ("aws", "http", "annotations", "metadata", "cause", "sql")
_FLAGS = ("fault", "error", "throttle", "in_progress")


def problem(doc: Any) -> str | None:
    """Why a segment document is refused (X-Ray's required fields, and the shapes of
    the fields lambdad reads), or None."""
    if not isinstance(doc, dict):
        return "Segment document is not a JSON object"
    if not isinstance(doc.get("trace_id"), str) or not _ROOT.fullmatch(doc["trace_id"]):
        return "Invalid trace_id"
    if doc.get("type") == "subsegment":
        if not isinstance(doc.get("parent_id"), str) or not _ID.fullmatch(doc["parent_id"]):
            return "Subsegment without a valid parent_id"
    elif "parent_id" in doc and not (
        isinstance(doc["parent_id"], str) and _ID.fullmatch(doc["parent_id"])
    ):
        return "Invalid parent_id"
    return _part_problem(doc, 0)


def _part_problem(doc: Any, depth: int) -> str | None:
    if not isinstance(doc, dict):
        return "Subsegment is not a JSON object"
    if depth > MAX_DEPTH:
        return "Subsegments nested too deep"
    if not isinstance(doc.get("id"), str) or not _ID.fullmatch(doc["id"]):
        return "Invalid segment id"
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        return "Missing segment name"
    start, end = doc.get("start_time"), doc.get("end_time")
    if not _number(start):
        return "Invalid start_time"
    if not _number(end) and doc.get("in_progress") is not True:
        return "Missing end_time"
    if any(k in doc and not isinstance(doc[k], dict) for k in _MAPS):
        return "Invalid segment field"
    if any(k in doc and not isinstance(doc[k], bool) for k in _FLAGS):
        return "Invalid segment flag"
    if any(k in doc and not isinstance(doc[k], str) for k in ("origin", "resource_arn")):
        return "Invalid segment field"
    subsegments = doc.get("subsegments", [])
    if not isinstance(subsegments, list):
        return "Invalid subsegments"
    for sub in subsegments:
        why = _part_problem(sub, depth + 1)
        if why is not None:
            return why
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class TraceStore:
    def __init__(self, max_traces: int = 10_000, on_put: OnPut | None = None) -> None:
        self.max_traces = max_traces
        self.on_put = on_put
        self._by_scope: dict[Scope, OrderedDict[str, Trace]] = {}
        self._owners: OrderedDict[str, Scope] = OrderedDict()
        self._lock = threading.Lock()  # the daemon's datagrams and the API's puts

    def put(self, scope: Scope, docs: Iterable[dict[str, Any]]) -> None:
        """Keep segments already checked (``problem`` is None for each)."""
        kept = []
        with self._lock:
            traces = self._by_scope.setdefault(scope, OrderedDict())
            for doc in docs:
                root = doc["trace_id"]
                trace = traces.get(root)
                if trace is None:
                    trace = traces[root] = Trace(root)
                    if len(traces) > self.max_traces:
                        traces.popitem(last=False)
                if len(trace.docs) < MAX_DOCS_PER_TRACE:
                    trace.docs.append(doc)
                    kept.append(doc)
        if self.on_put is not None and kept:
            self.on_put(scope, kept)

    def claim(self, root: str, scope: Scope) -> None:
        """Note ``root`` as ``scope``'s trace (segments the daemon gets for it go there):
        only for lambdad's own invocations, never for what a caller puts (a caller could
        name another account's trace)."""
        with self._lock:
            self._claim(root, scope)

    def _claim(self, root: str, scope: Scope) -> None:
        self._owners[root] = scope
        self._owners.move_to_end(root)
        if len(self._owners) > self.max_traces * 4:
            self._owners.popitem(last=False)

    def owner(self, root: str) -> Scope | None:
        """The (account, region) a trace of lambdad's own belongs to, if known."""
        return self._owners.get(root)

    def get(self, scope: Scope, trace_ids: Iterable[str]) -> list[Trace]:
        traces: Mapping[str, Trace] = self._by_scope.get(scope) or {}
        with self._lock:
            return [Trace(t.trace_id, list(t.docs)) for i in trace_ids if (t := traces.get(i))]

    def all(self, scope: Scope) -> list[Trace]:
        with self._lock:
            kept: Mapping[str, Trace] = self._by_scope.get(scope) or {}
            return [Trace(t.trace_id, list(t.docs)) for t in kept.values()]
