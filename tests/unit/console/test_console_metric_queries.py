"""The console's metric queries: windows aligned to their period, and the list page's
24-hour error counts read from one GetMetricData call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from lambdad.console import metric_queries
from lambdad.console.aws import Aws, Caller
from lambdad.model.scope import Scope


def test_windows_end_after_the_current_period() -> None:
    assert metric_queries.window("1h", 7230.0) == (7260 - 3600, 7260, 60)
    start, end, period = metric_queries.window("1w", 1_000_000.0)
    assert (end - start, period, end % period) == (7 * 86400, 10800, 0)
    assert metric_queries.window("bogus", 7230.0) == metric_queries.window("1h", 7230.0)


def test_error_rates_sum_the_last_day_per_function() -> None:
    asked: list[dict[str, Any]] = []

    async def get_metric_data(scope: Scope, p: dict[str, Any]) -> dict[str, Any]:
        assert scope == Scope("123456789012", "eu-west-1")
        asked.append(p)
        t = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (1, 2)]
        return {
            "MetricDataResults": [
                {"Id": "i0", "Timestamps": t, "Values": [3.0, 5.0]},
                {"Id": "e0", "Timestamps": t[:1], "Values": [2.0]},
            ]
        }

    aws = Aws({}, cloudwatch_ops={"GetMetricData": get_metric_data})
    who = Caller("AKID", "123456789012", "eu-west-1")
    rates = asyncio.run(metric_queries.error_rates(aws, who, ["a", "b"], 100_000.0))
    assert rates == {"a": (8, 2), "b": (0, 0)}
    (p,) = asked
    assert (p["EndTime"] - p["StartTime"]).total_seconds() == 86400
    dims = [q["MetricStat"]["Metric"]["Dimensions"] for q in p["MetricDataQueries"]]
    assert dims[2] == [{"Name": "FunctionName", "Value": "b"}]
    assert {q["MetricStat"]["Stat"] for q in p["MetricDataQueries"]} == {"Sum"}


def test_no_functions_ask_nothing() -> None:
    aws = Aws({})
    assert asyncio.run(metric_queries.error_rates(aws, Caller("K", "1", "r"), [], 0.0)) == {}
