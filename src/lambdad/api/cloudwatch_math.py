"""GetMetricData: metric queries and metric math expressions over them.

Each ``MetricStat`` query reads one series at its period and statistic; each
``Expression`` is evaluated over the other queries' series (``observe.metric_math``),
in dependency order. Results are returned for queries whose ``ReturnData`` is not
false, newest first unless ``ScanBy`` is ``TimestampAscending``.
"""

from __future__ import annotations

import re
from typing import Any

from lambdad.api.cloudwatch_params import check_period, metric_key
from lambdad.api.cloudwatch_wire import combination, invalid, missing
from lambdad.model.scope import Scope
from lambdad.observe.metric_math import MathError, Series, evaluate, references
from lambdad.observe.metric_reads import result, series_of
from lambdad.observe.metric_stats import STATISTICS, percentile_of
from lambdad.observe.metrics_service import MetricsService

_ID = re.compile(r"[a-z][a-zA-Z0-9_]{0,254}")
MAX_QUERIES = 500


async def metric_data(metrics: MetricsService, scope: Scope, p: dict[str, Any]) -> dict[str, Any]:
    queries: list[dict[str, Any]] = p["MetricDataQueries"]
    if len(queries) > MAX_QUERIES:
        raise invalid("The collection MetricDataQueries must not have a size greater than 500.")
    start, end = p["StartTime"].timestamp(), p["EndTime"].timestamp()
    if start >= end:
        raise invalid("The parameter StartTime must be less than the parameter EndTime.")
    ids = set()
    for q in queries:
        qid = q.get("Id") or ""
        if not _ID.fullmatch(qid):
            raise invalid(
                f"The value {qid} for parameter MetricDataQueries.member.N.Id is invalid."
            )
        if qid in ids:
            raise invalid(
                f"The value {qid} for parameter MetricDataQueries.member.N.Id is not unique."
            )
        ids.add(qid)
        if (q.get("MetricStat") is None) == (q.get("Expression") is None):
            raise combination(
                "Exactly one element of the MetricStat and Expression parameters of a "
                "MetricDataQuery must be specified."
            )
    series: dict[str, Series] = {}
    labels: dict[str, str] = {}
    for q in queries:
        stat = q.get("MetricStat")
        if stat is None:
            continue
        metric = stat.get("Metric") or {}
        if not metric.get("Namespace") or not metric.get("MetricName"):
            raise missing("MetricDataQueries.member.N.MetricStat.Metric.MetricName")
        if not stat.get("Period") or not stat.get("Stat"):
            raise missing("MetricDataQueries.member.N.MetricStat.Period")
        name = stat["Stat"]
        if name not in STATISTICS and percentile_of(name) is None:
            raise invalid(f"The value {name} for parameter Stat is invalid.")
        period = int(stat["Period"])
        check_period(period)
        key = metric_key(
            scope, metric["Namespace"], metric["MetricName"], metric.get("Dimensions") or []
        )
        per = (await metrics.datapoints([key], start, end, max(period, 60)))[key]
        series[q["Id"]] = series_of(per, name)
        labels[q["Id"]] = q.get("Label") or metric["MetricName"]
    _evaluate_expressions(queries, series, labels)
    descending = p.get("ScanBy") != "TimestampAscending"
    out = [
        result(q["Id"], labels[q["Id"]], series[q["Id"]], descending)
        for q in queries
        if q.get("ReturnData", True) is not False
    ]
    return {"MetricDataResults": out, "Messages": []}


def _evaluate_expressions(
    queries: list[dict[str, Any]], series: dict[str, Series], labels: dict[str, str]
) -> None:
    """Evaluate each expression once the queries it names are known (a cycle, or a
    name of no query, is refused)."""
    pending = {q["Id"]: q for q in queries if q.get("Expression") is not None}
    while pending:
        ready = [qid for qid, q in pending.items() if references(q["Expression"]) <= series.keys()]
        if not ready:
            names = ", ".join(sorted(pending))
            raise invalid(f"Metric math expressions name unknown or circular ids: {names}")
        for qid in ready:
            q = pending.pop(qid)
            try:
                value = evaluate(q["Expression"], series)
            except MathError as exc:
                raise invalid(f"Error in expression {qid}: {exc}") from None
            if isinstance(value, list):
                raise invalid(f"Error in expression {qid}: the result must be one time series")
            if isinstance(value, float):
                # A number: answered at every timestamp the other series have.
                stamps = sorted(set().union(*series.values())) if series else []
                value = {t: value for t in stamps}
            series[qid] = value
            labels[qid] = q.get("Label") or qid
