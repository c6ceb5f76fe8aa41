"""Metric alarms of every world: kept, evaluated, and their state changes announced.

An alarm is its ``MetricAlarm`` document, kept in ``metrics.db`` beside the metrics it
watches. ``run`` evaluates every alarm once a minute (``observe.alarm_state`` over the
last ``EvaluationPeriods`` periods, the current one included), and so does a read
(DescribeAlarms); a state that changes is kept with its reason and time, and
announced as AWS announces it: a ``CloudWatch Alarm State Change`` event from
``aws.cloudwatch`` on the account's default event bus (``on_change``). Alarms on
metric math (``Metrics``) are kept and described; their state stays as it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from lambdad.model.scope import Scope
from lambdad.observe.alarm_state import evaluate
from lambdad.observe.metric_keys import MetricKey, dimensions
from lambdad.observe.metrics_service import MetricsService

log = logging.getLogger(__name__)

Alarm = dict[str, Any]
# (the alarm's world, a PutEvents entry) -> awaited once the event is queued
StateChange = Callable[[Scope, dict[str, Any]], Awaitable[object]]
_TIMES = (
    "AlarmConfigurationUpdatedTimestamp",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
)


def _load(doc: str) -> Alarm:
    alarm: Alarm = json.loads(doc)
    for k in _TIMES:
        if isinstance(alarm.get(k), str):
            alarm[k] = datetime.fromisoformat(alarm[k])
    return alarm


def _dump(alarm: Alarm) -> str:
    return json.dumps(alarm, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


def _event_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def state_change_entry(alarm: Alarm, previous: Alarm) -> dict[str, Any]:
    """The PutEvents entry of an alarm's state change, in AWS's shape."""
    metric = {
        "id": "m1",
        "metricStat": {
            "metric": {
                "namespace": alarm.get("Namespace"),
                "name": alarm.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []},
            },
            "period": alarm.get("Period"),
            "stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        },
        "returnData": True,
    }

    def state(a: Alarm) -> dict[str, Any]:
        return {
            "value": a["StateValue"],
            "reason": a.get("StateReason", ""),
            "timestamp": _event_time(a["StateUpdatedTimestamp"]),
        }

    detail = {
        "alarmName": alarm["AlarmName"],
        "state": state(alarm),
        "previousState": state(previous),
        "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": [metric]},
    }
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [alarm["AlarmArn"]],
        "Detail": json.dumps(detail),
    }


class AlarmService:
    def __init__(
        self,
        metrics: MetricsService,
        *,
        on_change: StateChange | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.on_change = on_change
        self.now = now

    async def alarms(self, scope: Scope) -> list[Alarm]:
        return [_load(d) for d in await self.metrics.alarms(scope)]

    async def put(self, scope: Scope, alarm: Alarm) -> None:
        await self.metrics.put_alarm(scope, alarm["AlarmName"], _dump(alarm))

    async def delete(self, scope: Scope, names: list[str]) -> None:
        await self.metrics.delete_alarms(scope, names)

    async def evaluated(self, scope: Scope, alarm: Alarm) -> Alarm:
        """The alarm with its state evaluated now (kept and announced if it changed)."""
        if alarm.get("Metrics") or "MetricName" not in alarm:
            return alarm
        period, n = int(alarm["Period"]), int(alarm["EvaluationPeriods"])
        end = (int(self.now()) // period + 1) * period
        start = end - period * n
        pairs = [(d["Name"], d["Value"]) for d in alarm.get("Dimensions") or []]
        key = MetricKey(
            scope.account, scope.region, alarm["Namespace"], alarm["MetricName"], dimensions(pairs)
        )
        per = (await self.metrics.datapoints([key], start, end, period))[key]
        stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
        values = [
            per[t].statistic(stat) if t in per and per[t].count else None
            for t in range(start, end, period)
        ]
        verdict = evaluate(
            values,
            threshold=float(alarm["Threshold"]),
            operator=alarm["ComparisonOperator"],
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or n),
            treat_missing=alarm.get("TreatMissingData") or "missing",
            current=alarm["StateValue"],
        )
        if verdict.state == alarm["StateValue"]:
            return alarm
        previous = dict(alarm)
        at = datetime.fromtimestamp(self.now(), UTC)
        alarm = alarm | {
            "StateValue": verdict.state,
            "StateReason": verdict.reason,
            "StateUpdatedTimestamp": at,
            "StateTransitionedTimestamp": at,
        }
        await self.put(scope, alarm)
        log.info("alarm %s of %s: %s -> %s", alarm["AlarmName"], scope.account,
                 previous["StateValue"], verdict.state)  # fmt: skip
        if self.on_change is not None:
            try:
                await self.on_change(scope, state_change_entry(alarm, previous))
            except Exception:
                log.exception("alarm %s: its state change event was not sent", alarm["AlarmName"])
        return alarm

    async def evaluate_all(self) -> None:
        for account, region in await self.metrics.alarm_worlds():
            scope = Scope(account, region)
            for alarm in await self.alarms(scope):
                await self.evaluated(scope, alarm)

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.evaluate_all()
            except Exception:
                log.exception("alarms: evaluation failed")
