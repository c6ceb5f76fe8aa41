"""Metric alarms of every world: kept, evaluated, and their state changes announced.

An alarm is its ``MetricAlarm`` document, kept in ``metrics.db`` beside the metrics it
watches. ``run`` evaluates every alarm once a minute (``observe.alarm_state`` over the
last ``EvaluationPeriods`` periods, the current one included), and so does a read
(DescribeAlarms), except of an alarm whose state SetAlarmState set: that state holds
until the next scheduled evaluation, as on AWS ("When the alarm's next evaluation
period occurs, it returns to its actual state"); a state that changes is kept with
its reason and time, and announced as AWS announces it: a ``CloudWatch Alarm State
Change`` event from ``aws.cloudwatch`` on the account's default event bus
(``on_change``). Alarms on metric math (``Metrics``) are kept and described; their
state stays as it is (SetAlarmState changes it).

A change of state runs the actions listed for the new state (``observe.alarm_actions``
decides which; ``ActionRunner`` runs them, in the background: a read does not wait
for an SNS topic). Every change is evaluated under its alarm's lock (one per world and
alarm name: another tenant's alarms never wait for it) from the stored alarm, so two
evaluations at once (the timer and a DescribeAlarms) see one change, not two, and run
its actions once. The history of each world's alarms (configuration, state,
actions: ``observe.alarm_history``) is kept beside them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from lambdad.model.scope import Scope
from lambdad.observe.alarm_actions import ActionOutcome, ActionRunner, actions_for
from lambdad.observe.alarm_history import (
    KEEP_SECONDS,
    HistoryItem,
    action_item,
    configuration_item,
    state_item,
)
from lambdad.observe.alarm_messages import state_change_entry
from lambdad.observe.alarm_reasons import Period, Rule, reason, reason_data
from lambdad.observe.alarm_state import INSUFFICIENT, evaluate
from lambdad.observe.keyed_locks import KeyedLocks
from lambdad.observe.metric_keys import MetricKey, dimensions
from lambdad.observe.metrics_service import MetricsService

log = logging.getLogger(__name__)

# State changes of one account whose actions may be under way at once; the actions of a
# change beyond it are recorded as failed (a tenant flipping SetAlarmState cannot queue
# work without end).
MAX_PENDING_ACTIONS = 20
TOO_MANY = (
    "Too many alarm actions of this account are under way: the action was not run "
    f"(at most {MAX_PENDING_ACTIONS} state changes' actions at once)"
)

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


class AlarmService:
    def __init__(
        self,
        metrics: MetricsService,
        *,
        on_change: StateChange | None = None,
        actions: ActionRunner | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.on_change = on_change
        self.actions = actions
        self.now = now
        self._locks = KeyedLocks()
        self._running: set[asyncio.Task[None]] = set()
        self._pending: dict[str, int] = {}  # account -> its action tasks under way
        # Alarms whose state SetAlarmState set, kept until the next scheduled evaluation.
        self._set_by_hand: set[tuple[str, str, str]] = set()

    def _lock(self, scope: Scope, *names: str) -> AbstractAsyncContextManager[None]:
        """The locks of the world's alarms ``names`` (held across a change, its event
        and the start of its actions)."""
        return self._locks.hold(*((scope.account, scope.region, str(n)) for n in names))

    async def alarms(self, scope: Scope) -> list[Alarm]:
        return [_load(d) for d in await self.metrics.alarms(scope)]

    async def alarm(self, scope: Scope, name: str) -> Alarm | None:
        doc = await self.metrics.alarm(scope, name)
        return None if doc is None else _load(doc)

    async def put(self, scope: Scope, alarm: Alarm) -> None:
        await self.metrics.put_alarm(scope, alarm["AlarmName"], _dump(alarm))

    async def configure(self, scope: Scope, config: Alarm) -> None:
        """Create or update an alarm (PutMetricAlarm): a new one starts in
        INSUFFICIENT_DATA, an updated one keeps its state."""
        at = self.now()
        stamp = datetime.fromtimestamp(at, UTC)
        async with self._lock(scope, config["AlarmName"]):
            old = await self.alarm(scope, config["AlarmName"])
            alarm = dict(config)
            alarm["AlarmConfigurationUpdatedTimestamp"] = stamp
            for k in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp",
                      "StateTransitionedTimestamp"):  # fmt: skip
                if old is not None and k in old:
                    alarm[k] = old[k]
            if old is None:
                alarm |= {
                    "StateValue": INSUFFICIENT,
                    "StateReason": "Unchecked: Initial alarm creation",
                    "StateUpdatedTimestamp": stamp,
                    "StateTransitionedTimestamp": stamp,
                }
            await self.put(scope, alarm)
            item = (
                configuration_item(alarm, "Create", at)
                if old is None
                else configuration_item(alarm, "Update", at, old)
            )
            await self._remember(scope, [item])

    async def delete(self, scope: Scope, names: list[str]) -> None:
        at = self.now()
        async with self._lock(scope, *names):
            gone = [a for a in await self.alarms(scope) if a["AlarmName"] in set(names)]
            await self.metrics.delete_alarms(scope, names)
            self._set_by_hand -= {(scope.account, scope.region, n) for n in names}
            await self._remember(scope, [configuration_item(a, "Delete", at) for a in gone])

    async def set_actions_enabled(self, scope: Scope, names: Sequence[str], enabled: bool) -> None:
        """EnableAlarmActions / DisableAlarmActions: names of no alarm are passed over."""
        async with self._lock(scope, *names):
            for name in names:
                alarm = await self.alarm(scope, name)
                if alarm is not None:
                    await self.put(scope, alarm | {"ActionsEnabled": enabled})

    async def set_state(
        self, scope: Scope, name: str, state: str, reason: str, reason_data: str | None
    ) -> bool:
        """SetAlarmState: the state set (and its actions run if it changed); False if
        there is no such alarm."""
        async with self._lock(scope, name):
            alarm = await self.alarm(scope, name)
            if alarm is None:
                return False
            extra = {"StateReasonData": reason_data} if reason_data else {}
            await self._change(scope, alarm, state, reason, extra)
            self._set_by_hand.add((scope.account, scope.region, name))
            return True

    async def history(self, scope: Scope, start: float, end: float) -> list[HistoryItem]:
        """The world's history items from ``start`` to ``end``, oldest first: none older
        than CloudWatch keeps (pruned only when items are added: a quiet world's old
        ones are still stored)."""
        start = max(start, self.now() - KEEP_SECONDS)
        return [HistoryItem(*row) for row in await self.metrics.alarm_history(scope, start, end)]

    async def evaluated(self, scope: Scope, alarm: Alarm, *, scheduled: bool = False) -> Alarm:
        """The alarm with its state evaluated now (kept and announced if it changed);
        a state SetAlarmState set is evaluated by the ``scheduled`` evaluation only."""
        held = (scope.account, scope.region, str(alarm["AlarmName"]))
        if held in self._set_by_hand:
            if not scheduled:
                return alarm
            self._set_by_hand.discard(held)
        if alarm.get("Metrics") or "MetricName" not in alarm:
            return alarm
        async with self._lock(scope, alarm["AlarmName"]):
            # As stored now: another evaluation may have changed it since it was read,
            # or DeleteAlarms removed it (then it stays removed).
            stored = await self.alarm(scope, alarm["AlarmName"])
            if stored is None:
                return alarm
            alarm = stored
            period, n = int(alarm["Period"]), int(alarm["EvaluationPeriods"])
            end = (int(self.now()) // period + 1) * period
            start = end - period * n
            pairs = [(d["Name"], d["Value"]) for d in alarm.get("Dimensions") or []]
            key = MetricKey(
                scope.account, scope.region, alarm["Namespace"], alarm["MetricName"],
                dimensions(pairs),
            )  # fmt: skip
            per = (await self.metrics.datapoints([key], start, end, period))[key]
            stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
            periods = [
                Period(t, per[t].statistic(stat), per[t].count)
                if t in per and per[t].count
                else Period(t, None)
                for t in range(start, end, period)
            ]
            rule = Rule(
                threshold=float(alarm["Threshold"]),
                operator=alarm["ComparisonOperator"],
                datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or n),
                treat_missing=alarm.get("TreatMissingData") or "missing",
                statistic=stat,
                period=period,
                unit=alarm.get("Unit"),
            )
            verdict = evaluate(
                [p.value for p in periods],
                threshold=rule.threshold,
                operator=rule.operator,
                datapoints_to_alarm=rule.datapoints_to_alarm,
                treat_missing=rule.treat_missing,
                current=alarm["StateValue"],
            )
            if verdict.state == alarm["StateValue"]:
                return alarm
            why = reason(periods, rule, alarm["StateValue"], verdict.state)
            data = {"StateReasonData": reason_data(periods, rule, self.now())}
            return await self._change(scope, alarm, verdict.state, why, data)

    async def _change(
        self, scope: Scope, alarm: Alarm, state: str, reason: str, extra: Alarm | None = None
    ) -> Alarm:
        """Set the alarm's state (under the lock): kept, recorded, announced, and its
        actions started when the state is another."""
        previous = dict(alarm)
        at = self.now()
        stamp = datetime.fromtimestamp(at, UTC)
        alarm = {k: v for k, v in alarm.items() if k != "StateReasonData"}
        alarm |= {"StateValue": state, "StateReason": reason, "StateUpdatedTimestamp": stamp}
        alarm |= extra or {}
        changed = state != previous["StateValue"]
        if changed:
            alarm["StateTransitionedTimestamp"] = stamp
        await self.put(scope, alarm)
        if not changed:
            return alarm
        log.info("alarm %s of %s: %s -> %s", alarm["AlarmName"], scope.account,
                 previous["StateValue"], state)  # fmt: skip
        await self._remember(scope, [state_item(alarm, previous, at)])
        if self.on_change is not None:
            try:
                await self.on_change(scope, state_change_entry(alarm, previous))
            except Exception:
                log.exception("alarm %s: its state change event was not sent", alarm["AlarmName"])
        actions = actions_for(alarm, previous["StateValue"])
        if actions and self.actions is not None:
            await self._start_actions(scope, alarm, previous, actions, at)
        return alarm

    async def _start_actions(
        self, scope: Scope, alarm: Alarm, previous: Alarm, actions: list[str], at: float
    ) -> None:
        account = scope.account
        if self._pending.get(account, 0) >= MAX_PENDING_ACTIONS:
            log.warning("alarm %s of %s: actions refused, too many under way",
                        alarm["AlarmName"], account)  # fmt: skip
            refused = [ActionOutcome(a, False, error=TOO_MANY) for a in actions]
            items = [action_item(alarm, o, at, at) for o in refused]
            await self._remember(scope, items)
            return
        self._pending[account] = self._pending.get(account, 0) + 1
        task = asyncio.get_running_loop().create_task(
            self._run_actions(scope, alarm, previous, actions, at)
        )
        self._running.add(task)
        task.add_done_callback(self._running.discard)

        def done(_: object) -> None:
            left = self._pending.get(account, 1) - 1
            if left > 0:
                self._pending[account] = left
            else:
                self._pending.pop(account, None)

        task.add_done_callback(done)

    async def _run_actions(
        self, scope: Scope, alarm: Alarm, previous: Alarm, actions: list[str], at: float
    ) -> None:
        assert self.actions is not None
        try:
            outcomes = await self.actions.run(scope.account, scope.region, alarm, previous, actions)
            for o in outcomes:
                if not o.succeeded:
                    log.warning("alarm %s of %s: action %s failed: %s", alarm["AlarmName"],
                                scope.account, o.action, o.error)  # fmt: skip
            done = self.now()
            await self._remember(scope, [action_item(alarm, o, done, at) for o in outcomes])
        except Exception:
            log.exception("alarm %s: its actions failed", alarm["AlarmName"])

    async def _remember(self, scope: Scope, items: list[HistoryItem]) -> None:
        if items:
            rows = [(i.alarm_name, i.at, i.item_type, i.summary, i.data) for i in items]
            await self.metrics.add_alarm_history(scope, rows, self.now() - KEEP_SECONDS)

    async def settle(self, within: float | None = None) -> None:
        """Wait for the actions under way (tests; a stop, for at most ``within`` s)."""
        if self._running:
            await asyncio.wait(list(self._running), timeout=within)

    async def evaluate_all(self) -> None:
        for account, region in await self.metrics.alarm_worlds():
            scope = Scope(account, region)
            for alarm in await self.alarms(scope):
                await self.evaluated(scope, alarm, scheduled=True)

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.evaluate_all()
            except Exception:
                log.exception("alarms: evaluation failed")
