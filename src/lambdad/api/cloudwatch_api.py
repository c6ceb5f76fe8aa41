"""The CloudWatch API subset: metric reads and writes, routed by signing scope.

Requests signed for ``monitoring`` come here whatever their protocol
(``cloudwatch_wire``); each operation sees typed parameters and returns the output
shape's dict. A caller reads and writes only its own (account, region)'s metrics:
the scope comes from the signature, never from the request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lambdad.api.cloudwatch_alarms import AlarmOperations
from lambdad.api.cloudwatch_math import metric_data
from lambdad.api.cloudwatch_params import Params, check_period, metric_key, page_token, required
from lambdad.api.cloudwatch_shapes import model
from lambdad.api.cloudwatch_wire import (
    CloudWatchError,
    Protocol,
    Response,
    combination,
    decode,
    detect,
    encode,
    encode_error,
    invalid,
    missing,
    operation,
)
from lambdad.api.context import RequestContext
from lambdad.api.cost_api import PATH as COST_PATH
from lambdad.api.cost_api import cost_report
from lambdad.model.scope import Scope
from lambdad.observe.alarms import AlarmService
from lambdad.observe.metric_keys import MetricKey, matches
from lambdad.observe.metric_reads import MAX_DATAPOINTS, datapoints, unit_of
from lambdad.observe.metric_stats import STATISTICS, Stats, percentile_of
from lambdad.observe.metrics_service import MetricsService
from lambdad.observe.pricing import Prices

log = logging.getLogger(__name__)

Operation = Callable[[Scope, Params], Awaitable[dict[str, Any]]]
_PAGE = 500
_MAX_VALUES = 150


class CloudWatchApi:
    def __init__(
        self,
        metrics: MetricsService,
        prices: Prices | None = None,
        now: Callable[[], float] = time.time,
        alarms: AlarmService | None = None,
    ) -> None:
        self.metrics = metrics
        self.prices = prices or Prices()
        self.now = now
        alarm_ops = AlarmOperations(
            alarms or AlarmService(metrics, now=lambda: self.now()), lambda: self.now()
        )
        self.operations: dict[str, Operation] = {
            "GetMetricStatistics": self.get_metric_statistics,
            "GetMetricData": self.get_metric_data,
            "ListMetrics": self.list_metrics,
            "PutMetricData": self.put_metric_data,
            "PutMetricAlarm": alarm_ops.put_metric_alarm,
            "DescribeAlarms": alarm_ops.describe_alarms,
            "DescribeAlarmsForMetric": alarm_ops.describe_alarms_for_metric,
            "DeleteAlarms": alarm_ops.delete_alarms,
            "SetAlarmState": alarm_ops.set_alarm_state,
            "EnableAlarmActions": alarm_ops.enable_alarm_actions,
            "DisableAlarmActions": alarm_ops.disable_alarm_actions,
            "DescribeAlarmHistory": alarm_ops.describe_alarm_history,
        }

    async def __call__(
        self, ctx: RequestContext, method: str, path: str, query: str, body: bytes
    ) -> Response:
        if path.partition("?")[0] == COST_PATH and method == "GET":
            return await cost_report(self.metrics, self.prices, ctx.scope, query, self.now)
        protocol = Protocol.QUERY
        try:
            protocol, name = detect(path, ctx.headers, query, body)
            handler = self.operations.get(name)
            op = operation(name) if handler is not None else None
            if handler is None or op is None:
                if protocol is Protocol.QUERY:
                    raise CloudWatchError(
                        "InvalidAction", "InvalidAction", f"Could not find operation {name}"
                    )
                raise CloudWatchError(
                    "UnknownOperationException",
                    "UnknownOperation",
                    f"Unknown operation {name}",
                    404,
                )
            params = decode(protocol, op, query, body)
            result = await handler(ctx.scope, params)
            return encode(protocol, op, result, ctx.request_id)
        except CloudWatchError as err:
            return encode_error(protocol, err, ctx.request_id)
        except Exception:
            log.exception("cloudwatch: request %s failed", ctx.request_id)
            fault = CloudWatchError(
                "InternalServiceFault", "InternalServiceError", "Internal error", 500
            )
            return encode_error(protocol, fault, ctx.request_id)

    # -- reads ---------------------------------------------------------------------------

    async def get_metric_statistics(self, scope: Scope, p: Params) -> dict[str, Any]:
        required(p, "Namespace", "MetricName", "StartTime", "EndTime", "Period")
        stats, extended = p.get("Statistics") or [], p.get("ExtendedStatistics") or []
        if not stats and not extended:
            raise combination("Must specify either Statistics or ExtendedStatistics.")
        for s in stats:
            if s not in STATISTICS:
                raise invalid(f"The parameter Statistics contains an invalid value: {s}.")
        for e in extended:
            if percentile_of(e) is None:
                raise invalid(f"The parameter ExtendedStatistics contains an invalid value: {e}.")
        period = int(p["Period"])
        check_period(period)
        start, end = p["StartTime"].timestamp(), p["EndTime"].timestamp()
        if start >= end:
            raise invalid("The parameter StartTime must be less than the parameter EndTime.")
        points = int(-(-(end - start) // period))
        if points > MAX_DATAPOINTS:
            raise combination(
                f"You have requested up to {points:,} datapoints, which exceeds the limit of "
                "1,440. You may reduce the datapoints requested by increasing Period, or "
                "decreasing the time range."
            )
        key = metric_key(scope, p["Namespace"], p["MetricName"], p.get("Dimensions") or [])
        per = (await self.metrics.datapoints([key], start, end, max(period, 60)))[key]
        unit = unit_of(key, await self.metrics.unit(key))
        if p.get("Unit") and p["Unit"] != unit:
            return {"Label": key.name, "Datapoints": []}  # points in another unit only
        return {"Label": key.name, "Datapoints": datapoints(per, stats, extended, unit)}

    async def get_metric_data(self, scope: Scope, p: Params) -> dict[str, Any]:
        required(p, "MetricDataQueries", "StartTime", "EndTime")
        return await metric_data(self.metrics, scope, p)

    async def list_metrics(self, scope: Scope, p: Params) -> dict[str, Any]:
        recent = p.get("RecentlyActive")
        if recent not in (None, "PT3H"):
            raise invalid(f"The value {recent} for parameter RecentlyActive is invalid.")
        # PT3H: a point in the last three hours (a point's minute, as stored).
        keys = await (
            self.metrics.series(scope, 3 * 3600) if recent else self.metrics.series(scope)
        )
        wanted = [(str(d.get("Name")), d.get("Value")) for d in p.get("Dimensions") or []]
        rows = [
            k
            for k in keys
            if (not p.get("Namespace") or k.namespace == p["Namespace"])
            and (not p.get("MetricName") or k.name == p["MetricName"])
            and matches(k.dims, wanted)
        ]
        start = page_token(p.get("NextToken"))
        page = rows[start : start + _PAGE]
        out: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": k.namespace,
                    "MetricName": k.name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in k.dims],
                }
                for k in page
            ]
        }
        if start + _PAGE < len(rows):
            out["NextToken"] = str(start + _PAGE)
        return out

    # -- writes --------------------------------------------------------------------------

    async def put_metric_data(self, scope: Scope, p: Params) -> dict[str, Any]:
        required(p, "Namespace")
        ns = str(p["Namespace"])
        if ns.startswith("AWS/") or not 1 <= len(ns) <= 255:
            raise invalid(f"The value {ns} for parameter Namespace is invalid.")
        data = p.get("MetricData") or []
        if not data:
            raise missing("MetricData")
        if len(data) > 1000:
            raise invalid("The collection MetricData must not have a size greater than 1000.")
        staged = [self._datum(scope, ns, d) for d in data]
        if not await self.metrics.room_for([key for key, _, _ in staged]):
            raise CloudWatchError(
                "LimitExceededFault",
                "LimitExceeded",
                f"The account has {self.metrics.quota.limit} custom metrics (the limit "
                "this lambdad keeps); no new ones are taken.",
            )
        for (key, at, stats), d in zip(staged, data, strict=True):
            self.metrics.put(key, at, stats, d.get("Unit"))
        return {}

    def _datum(self, scope: Scope, ns: str, d: Params) -> tuple[MetricKey, float, Stats]:
        if not d.get("MetricName"):
            raise missing("MetricData.member.N.MetricName")
        key = metric_key(scope, ns, d["MetricName"], d.get("Dimensions") or [])
        unit = d.get("Unit")
        if unit is not None and unit not in model().shape_for("StandardUnit").enum:
            raise invalid(f"The value {unit} for parameter MetricData.member.N.Unit is invalid.")
        at = d["Timestamp"].timestamp() if d.get("Timestamp") else self.now()
        if at < self.now() - 14 * 86400 or at > self.now() + 2 * 3600:
            raise invalid(
                "The parameter MetricData.member.N.Timestamp must specify a time no more "
                "than two weeks in the past or two hours in the future."
            )
        stats = Stats()
        given = [k for k in ("Value", "Values", "StatisticValues") if d.get(k) is not None]
        if len(given) > 1:
            raise combination(
                "The parameters MetricData.member.N.Value, MetricData.member.N.Values and "
                "MetricData.member.N.StatisticValues are mutually exclusive."
            )
        if d.get("StatisticValues") is not None:
            sv = d["StatisticValues"]
            for member in ("SampleCount", "Sum", "Minimum", "Maximum"):
                if sv.get(member) is None:
                    raise missing(f"MetricData.member.N.StatisticValues.{member}")
            stats.add_summary(sv["SampleCount"], sv["Sum"], sv["Minimum"], sv["Maximum"])
        elif d.get("Values") is not None:
            values, counts = d["Values"], d.get("Counts") or [1.0] * len(d["Values"])
            if len(values) > _MAX_VALUES or len(counts) != len(values):
                raise invalid(
                    "The parameters Values and Counts must be arrays of the same size, "
                    "of at most 150 items."
                )
            for v, c in zip(values, counts, strict=True):
                stats.add(float(v), float(c))
        else:
            stats.add(float(d.get("Value", 0.0)))
        return key, at, stats
