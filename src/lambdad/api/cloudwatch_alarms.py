"""PutMetricAlarm, DescribeAlarms, DeleteAlarms: the parameters checked, the alarm kept.

What an alarm does (evaluation, state changes, their events) is ``observe.alarms``';
this module checks what CloudWatch checks of a request and shapes the documents.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lambdad.api.cloudwatch_params import Params, check_period, required
from lambdad.api.cloudwatch_wire import invalid
from lambdad.model.scope import Scope
from lambdad.observe.alarm_state import INSUFFICIENT, OPERATORS, TREAT_MISSING
from lambdad.observe.alarms import AlarmService
from lambdad.observe.metric_stats import STATISTICS, percentile_of

_CONFIG = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
    "ThresholdMetricId",
)  # fmt: skip


class AlarmOperations:
    def __init__(self, alarms: AlarmService, now: Callable[[], float]) -> None:
        self.alarms = alarms
        self.now = now

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
        evaluation = int(p["EvaluationPeriods"])
        if evaluation < 1 or int(p.get("DatapointsToAlarm") or 1) > evaluation:
            raise invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
        name = p["AlarmName"]
        now = datetime.fromtimestamp(self.now(), UTC)
        old = {a["AlarmName"]: a for a in await self.alarms.alarms(scope)}.get(name)
        doc: dict[str, Any] = {k: p[k] for k in _CONFIG if k in p}
        doc |= {
            "AlarmName": name,
            "AlarmArn": f"arn:aws:cloudwatch:{scope.region}:{scope.account}:alarm:{name}",
            "AlarmConfigurationUpdatedTimestamp": now,
            "StateValue": old["StateValue"] if old else INSUFFICIENT,
            "StateReason": old["StateReason"] if old else "Unchecked: Initial alarm creation",
            "StateUpdatedTimestamp": old["StateUpdatedTimestamp"] if old else now,
        }
        await self.alarms.put(scope, doc)
        return {}

    async def describe_alarms(self, scope: Scope, p: Params) -> dict[str, Any]:
        names = set(p.get("AlarmNames") or ())
        prefix = p.get("AlarmNamePrefix") or ""
        most = int(p["MaxRecords"]) if p.get("MaxRecords") is not None else 50
        if not 1 <= most <= 100:
            raise invalid("The parameter MaxRecords must be between 1 and 100.")
        after = p.get("NextToken") or ""  # the last name of the page before (names sort)
        out: list[dict[str, Any]] = []
        for alarm in await self.alarms.alarms(scope):
            name = alarm["AlarmName"]
            if (names and name not in names) or not name.startswith(prefix) or name <= after:
                continue
            alarm = await self.alarms.evaluated(scope, alarm)
            if p.get("StateValue") and alarm["StateValue"] != p["StateValue"]:
                continue
            if len(out) == most:
                return {
                    "MetricAlarms": out,
                    "CompositeAlarms": [],
                    "NextToken": out[-1]["AlarmName"],
                }
            out.append(alarm)
        return {"MetricAlarms": out, "CompositeAlarms": []}

    async def delete_alarms(self, scope: Scope, p: Params) -> dict[str, Any]:
        required(p, "AlarmNames")
        await self.alarms.delete(scope, list(p["AlarmNames"]))
        return {}
