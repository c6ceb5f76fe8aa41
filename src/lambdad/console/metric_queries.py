"""The metrics the console shows, as ``GetMetricData`` queries over the CloudWatch
service lambdad keeps (``AWS/Lambda`` and lambdad's own ``Lambdad`` namespace), and
their answers as plain ``{epoch seconds: value}`` series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdad.console.aws import Aws, Caller


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    namespace: str
    metric: str
    stat: str
    unit: str = ""


CHARTS = (
    Chart("inv", "Invocations", "AWS/Lambda", "Invocations", "Sum"),
    Chart("err", "Errors", "AWS/Lambda", "Errors", "Sum"),
    Chart("thr", "Throttles", "AWS/Lambda", "Throttles", "Sum"),
    Chart("p50", "Duration p50", "AWS/Lambda", "Duration", "p50", "ms"),
    Chart("p99", "Duration p99", "AWS/Lambda", "Duration", "p99", "ms"),
    Chart("conc", "Concurrent executions", "AWS/Lambda", "ConcurrentExecutions", "Maximum"),
    Chart("cold", "Cold starts", "Lambdad", "ColdStarts", "Sum"),
)

# Time ranges the monitor page offers: (query value, label, seconds, period).
RANGES = (
    ("1h", "1 hour", 3600, 60),
    ("3h", "3 hours", 3 * 3600, 300),
    ("12h", "12 hours", 12 * 3600, 900),
    ("1d", "1 day", 86400, 1800),
    ("1w", "1 week", 7 * 86400, 3600 * 3),
)

Series = dict[int, float]


def window(key: str, now: float) -> tuple[int, int, int]:
    """(start, end, period) of a range key (unknown keys get the first range), aligned
    to the period so that the last bucket is the current one."""
    _, _, span, period = next((r for r in RANGES if r[0] == key), RANGES[0])
    end = (int(now) // period + 1) * period
    return end - span, end, period


def _query(qid: str, chart: Chart, function: str, period: int) -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": chart.namespace,
                "MetricName": chart.metric,
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
            },
            "Period": period,
            "Stat": chart.stat,
        },
    }


async def fetch(
    aws: Aws, who: Caller, queries: list[dict[str, Any]], start: int, end: int
) -> dict[str, Series]:
    if not queries:
        return {}
    out = await aws.cloudwatch(
        who,
        "GetMetricData",
        MetricDataQueries=queries,
        StartTime=datetime.fromtimestamp(start, UTC),
        EndTime=datetime.fromtimestamp(end, UTC),
        ScanBy="TimestampAscending",
    )
    return {
        r["Id"]: {
            int(t.timestamp() if isinstance(t, datetime) else t): float(v)
            for t, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False)
        }
        for r in out.get("MetricDataResults", [])
    }


async def charts(
    aws: Aws, who: Caller, function: str, start: int, end: int, period: int
) -> dict[str, Series]:
    queries = [_query(c.id, c, function, period) for c in CHARTS]
    return await fetch(aws, who, queries, start, end)


async def error_rates(
    aws: Aws, who: Caller, functions: list[str], now: float
) -> dict[str, tuple[int, int]]:
    """Per function, (invocations, errors) over the last 24 hours."""
    end = (int(now) // 3600 + 1) * 3600
    inv, err = CHARTS[0], CHARTS[1]
    queries: list[dict[str, Any]] = []
    for i, name in enumerate(functions):
        queries += [_query(f"i{i}", inv, name, 3600), _query(f"e{i}", err, name, 3600)]
    got = await fetch(aws, who, queries, end - 86400, end)
    return {
        name: (
            int(sum(got.get(f"i{i}", {}).values())),
            int(sum(got.get(f"e{i}", {}).values())),
        )
        for i, name in enumerate(functions)
    }
