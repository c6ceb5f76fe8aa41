"""PutMetricAlarm, DescribeAlarms, DeleteAlarms: alarms on a single metric.

An alarm is kept as its ``MetricAlarm`` document (``metrics.db``); DescribeAlarms
evaluates each one against its metric first (``observe.alarm_state``) and keeps a
state that changed, with its reason and time. Alarms on metric math (``Metrics``)
are kept and described, their state left INSUFFICIENT_DATA.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lambdad.api.cloudwatch_params import Params, check_period, metric_key, required
from lambdad.api.cloudwatch_shapes import from_document, model
from lambdad.api.cloudwatch_wire import invalid
from lambdad.model.scope import Scope
from lambdad.observe.alarm_state import INSUFFICIENT, OPERATORS, TREAT_MISSING, evaluate
from lambdad.observe.metric_stats import STATISTICS, percentile_of
from lambdad.observe.metrics_service import MetricsService

_CONFIG = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
    "ThresholdMetricId",
)  # fmt: skip


def _stamp(t: datetime) -> str:
    return t.isoformat()


class AlarmOperations:
    def __init__(self, metrics: MetricsService, now: Callable[[], float]) -> None:
        self.metrics = metrics
        self.now = now

    def _time(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    async def put_metric_alarm(self, scope: Scope, p: Params) -> dict[str, Any]:
        required(p, "AlarmName", "EvaluationPeriods", "ComparisonOperator")
        if p["ComparisonOperator"] not in OPERATORS:
            raise invalid(
                f"The value {p['ComparisonOperator']} for parameter ComparisonOperator "
                "is not supported."
            )
        if p.get("TreatMissingData", "missing") not in TREAT_MISSING:
            raise invalid(
                f"The value {p['TreatMissingData']} for parameter TreatMissingData is invalid."
            )
        if not p.get("Metrics"):
            required(p, "MetricName", "Namespace", "Period", "Threshold")
            check_period(int(p["Period"]))
            stat = p.get("Statistic") or p.get("ExtendedStatistic")
            if stat is None or (stat not in STATISTICS and percentile_of(stat) is None):
                raise invalid("Exactly one of Statistic and ExtendedStatistic must be specified.")
        if int(p["EvaluationPeriods"]) < 1 or int(p.get("DatapointsToAlarm") or 1) > int(
            p["EvaluationPeriods"]
        ):
            raise invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
        name = p["AlarmName"]
        now = self._time()
        old = {a["AlarmName"]: a for a in await self._load(scope)}.get(name)
        doc: dict[str, Any] = {k: p[k] for k in _CONFIG if k in p}
        doc |= {
            "AlarmName": name,
            "AlarmArn": f"arn:aws:cloudwatch:{scope.region}:{scope.account}:alarm:{name}",
            "AlarmConfigurationUpdatedTimestamp": now,
            "StateValue": old["StateValue"] if old else INSUFFICIENT,
            "StateReason": old["StateReason"] if old else "Unchecked: Initial alarm creation",
            "StateUpdatedTimestamp": old["StateUpdatedTimestamp"] if old else now,
        }
        await self._save(scope, doc)
        return {}

    async def describe_alarms(self, scope: Scope, p: Params) -> dict[str, Any]:
        names = set(p.get("AlarmNames") or ())
        prefix = p.get("AlarmNamePrefix") or ""
        out = []
        for alarm in await self._load(scope):
            if (names and alarm["AlarmName"] not in names) or not alarm["AlarmName"].startswith(
                prefix
            ):
                continue
            alarm = await self._evaluated(scope, alarm)
            if p.get("StateValue") and alarm["StateValue"] != p["StateValue"]:
                continue
            out.append(alarm)
        return {"MetricAlarms": out, "CompositeAlarms": []}

    async def delete_alarms(self, scope: Scope, p: Params) -> dict[str, Any]:
        required(p, "AlarmNames")
        await self.metrics.delete_alarms(scope, list(p["AlarmNames"]))
        return {}

    async def _evaluated(self, scope: Scope, alarm: dict[str, Any]) -> dict[str, Any]:
        if alarm.get("Metrics") or "MetricName" not in alarm:
            return alarm
        period, n = int(alarm["Period"]), int(alarm["EvaluationPeriods"])
        end = self.now() // period * period
        start = end - period * n
        key = metric_key(
            scope, alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions") or []
        )
        per = (await self.metrics.datapoints([key], start, end, period))[key]
        stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
        values = [
            per[t].statistic(stat) if t in per and per[t].count else None
            for t in range(int(start), int(end), period)
        ]
        verdict = evaluate(
            values,
            threshold=float(alarm["Threshold"]),
            operator=alarm["ComparisonOperator"],
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or n),
            treat_missing=alarm.get("TreatMissingData") or "missing",
            current=alarm["StateValue"],
        )
        if verdict.state != alarm["StateValue"]:
            now = self._time()
            alarm |= {
                "StateValue": verdict.state,
                "StateReason": verdict.reason,
                "StateUpdatedTimestamp": now,
                "StateTransitionedTimestamp": now,
            }
            await self._save(scope, alarm)
        return alarm

    async def _load(self, scope: Scope) -> list[dict[str, Any]]:
        shape = model().shape_for("MetricAlarm")
        return [from_document(shape, json.loads(d)) for d in await self.metrics.alarms(scope)]

    async def _save(self, scope: Scope, alarm: dict[str, Any]) -> None:
        doc = json.dumps(alarm, default=lambda v: _stamp(v) if isinstance(v, datetime) else str(v))
        await self.metrics.put_alarm(scope, alarm["AlarmName"], doc)
