"""What GetMetricStatistics and GetMetricData answer, from per-period statistics.

Pure: the statistics of each period of a series come in (``MetricsService.datapoints``);
out come CloudWatch's datapoints (the statistics asked for, the unit) or a query's
(timestamps, values). Units: Lambda's metrics have AWS's (``Duration`` in
milliseconds, the rest counts); other series answer the unit the caller asked for,
else ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lambdad.observe.metric_keys import LAMBDA, LAMBDAD, MetricKey
from lambdad.observe.metric_stats import Stats

# CloudWatch answers at most this many datapoints per GetMetricStatistics call.
MAX_DATAPOINTS = 1440
_MILLISECONDS = {
    "Duration",
    "AsyncEventAge",
    "IteratorAge",
    "InitDuration",
    "PostRuntimeExtensionsDuration",
}


def unit_of(key: MetricKey, stored: str | None = None) -> str:
    """A series' unit: AWS's for Lambda's own, else the one it was given ("None")."""
    if key.namespace in (LAMBDA, LAMBDAD):
        return "Milliseconds" if key.name in _MILLISECONDS else "Count"
    return stored or "None"


def _finite(v: float | None) -> float:
    return 0.0 if v is None or math.isnan(v) or math.isinf(v) else v


def datapoints(
    per_period: Mapping[int, Stats],
    statistics: Sequence[str],
    extended: Sequence[str],
    unit: str,
) -> list[dict[str, Any]]:
    """GetMetricStatistics' ``Datapoints``, oldest first, one per period with data."""
    out = []
    for ts in sorted(per_period):
        s = per_period[ts]
        if s.count <= 0:
            continue
        point: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(ts, UTC)}
        for name in statistics:
            point[name] = _finite(s.statistic(name))
        if extended:
            point["ExtendedStatistics"] = {p: _finite(s.statistic(p)) for p in extended}
        point["Unit"] = unit
        out.append(point)
    return out


def series_of(per_period: Mapping[int, Stats], stat: str) -> dict[int, float]:
    """One statistic of each period with data: a time series for metric math."""
    return {ts: _finite(s.statistic(stat)) for ts, s in sorted(per_period.items()) if s.count > 0}


def result(
    query_id: str, label: str, values: Mapping[int, float], descending: bool = True
) -> dict[str, Any]:
    """One ``MetricDataResult`` (every timestamp answered: status Complete)."""
    stamps = sorted(values, reverse=descending)
    return {
        "Id": query_id,
        "Label": label,
        "Timestamps": [datetime.fromtimestamp(t, UTC) for t in stamps],
        "Values": [values[t] for t in stamps],
        "StatusCode": "Complete",
    }
