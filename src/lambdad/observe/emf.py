"""The embedded metric format: metrics a function writes into its log lines.

A log line that is a JSON object with an ``_aws`` member (``Timestamp`` in ms and
``CloudWatchMetrics``: namespace, dimension sets, metric definitions) declares
metrics whose values are the object's own members (a number, or a list of up to 100
numbers), each dimension's value another member; CloudWatch extracts them as custom
metrics, and so does lambdad (Powertools' ``Metrics``, the EMF libraries).
``extract`` is pure: a line in, the points it declares out; a line that is not EMF,
or breaks its rules, declares nothing (CloudWatch drops it the same way).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lambdad.model.scope import Scope
from lambdad.observe.metric_keys import Dimensions, dimensions
from lambdad.observe.metrics_recorder import MetricsRecorder

MARKER = '"_aws"'
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
# CloudWatch's units (StandardUnit); any other is left out, the values kept.
UNITS = frozenset(
    [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ]
)


@dataclass(frozen=True, slots=True)
class EmfPoint:
    namespace: str
    name: str
    dims: Dimensions
    at_ms: int | None
    values: tuple[float, ...]
    unit: str | None = None


def _values(raw: Any) -> tuple[float, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for v in items[:MAX_VALUES]:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return ()
        out.append(float(v))
    return tuple(out)


def extract(line: str) -> list[EmfPoint]:
    """The points an EMF log line declares (none for any other line)."""
    if MARKER not in line:
        return []
    text = line.strip()
    start = text.find("{")
    if start < 0:
        return []
    try:
        doc = json.loads(text[start:])
    except (ValueError, RecursionError):
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("_aws"), dict):
        return []
    return list(_points(doc))


def _points(doc: dict[str, Any]) -> Iterator[EmfPoint]:
    meta = doc["_aws"]
    at = meta.get("Timestamp")
    at_ms = int(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return
    for d in directives:
        if not isinstance(d, dict) or not isinstance(d.get("Namespace"), str):
            continue
        ns = d["Namespace"]
        if not ns or ns.startswith("AWS/"):
            continue
        dim_sets = d.get("Dimensions") or [[]]
        metrics = d.get("Metrics")
        if not isinstance(dim_sets, list) or not isinstance(metrics, list):
            continue
        resolved = [_dimension_set(s, doc) for s in dim_sets]
        for m in metrics[:MAX_METRICS]:
            name = m.get("Name") if isinstance(m, dict) else None
            if not isinstance(name, str) or name not in doc:
                continue
            values = _values(doc[name])
            if not values:
                continue
            unit = m.get("Unit")
            unit = unit if isinstance(unit, str) and unit in UNITS else None
            for dims in resolved:
                if dims is not None:
                    yield EmfPoint(ns, name, dims, at_ms, values, unit)


def _dimension_set(keys: Any, doc: dict[str, Any]) -> Dimensions | None:
    if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS:
        return None
    pairs = []
    for k in keys:
        value = doc.get(k) if isinstance(k, str) else None
        if not isinstance(value, str) or not value:
            return None
        pairs.append((k, value))
    return dimensions(pairs)


def record(recorder: MetricsRecorder, scope: Scope, line: str) -> None:
    """The metrics of a function's log line, if it declares any, recorded as the
    function's account's custom metrics."""
    for p in extract(line):
        at = p.at_ms / 1000 if p.at_ms is not None else None
        for v in p.values:
            recorder.observe(scope, p.namespace, p.name, p.dims, v, at)
        if p.unit is not None:
            recorder.unit(scope, p.namespace, p.name, p.dims, p.unit)
