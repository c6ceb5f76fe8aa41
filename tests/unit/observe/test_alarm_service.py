"""The alarm service's decisions with a fake action runner: actions run once per change
of state, only while enabled, and the history records configuration, state and actions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from lambdad.model.scope import Scope
from lambdad.observe.alarm_actions import ActionOutcome
from lambdad.observe.alarms import AlarmService
from lambdad.observe.metric_keys import MetricKey, dimensions
from lambdad.observe.metric_stats import Stats
from lambdad.observe.metrics_recorder import MetricsRecorder
from lambdad.observe.metrics_service import MetricsService
from lambdad.store.metrics_sqlite import SqliteMetricStorage

NOW = 1_800_000_000.0
SCOPE = Scope("111122223333", "us-east-1")
TOPIC = "arn:aws:sns:us-east-1:111122223333:ops"
BROKEN = "arn:aws:sns:us-east-1:111122223333:gone"


class Runner:
    def __init__(self) -> None:
        self.runs: list[tuple[str, str, list[str]]] = []

    async def run(
        self,
        account: str,
        region: str,
        alarm: dict[str, Any],
        previous: dict[str, Any],
        actions: Sequence[str],
    ) -> list[ActionOutcome]:
        await asyncio.sleep(0)
        self.runs.append((previous["StateValue"], alarm["StateValue"], list(actions)))
        return [
            ActionOutcome(a, False, error="NotFound: Topic does not exist")
            if a == BROKEN
            else ActionOutcome(a, True, published="{}")
            for a in actions
        ]


@pytest.fixture
def parts() -> Iterator[tuple[AlarmService, MetricsService, Runner, list[float]]]:
    clock = [NOW]
    storage = SqliteMetricStorage(":memory:")
    storage.open()
    metrics = MetricsService(storage, MetricsRecorder(now=lambda: clock[0]), now=lambda: clock[0])
    runner = Runner()
    yield AlarmService(metrics, actions=runner, now=lambda: clock[0]), metrics, runner, clock
    storage.close()


def config(**over: Any) -> dict[str, Any]:
    return {
        "AlarmName": "orders",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:orders",
        "Namespace": "Shop",
        "MetricName": "Orders",
        "Dimensions": [],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [TOPIC, BROKEN],
        "OKActions": [TOPIC],
        "ActionsEnabled": True,
    } | over


def orders(metrics: MetricsService, value: float) -> None:
    stats = Stats()
    stats.add(value)
    key = MetricKey(SCOPE.account, SCOPE.region, "Shop", "Orders", dimensions([]))
    metrics.put(key, NOW, stats)


def test_concurrent_evaluations_run_the_actions_once(parts: Any) -> None:
    service, metrics, runner, _ = parts

    async def go() -> list[Any]:
        await service.configure(SCOPE, config())
        orders(metrics, 9)
        (alarm,) = await service.alarms(SCOPE)
        # The timer and two DescribeAlarms at once, each from the alarm it read.
        await asyncio.gather(
            service.evaluated(SCOPE, alarm),
            service.evaluated(SCOPE, alarm),
            service.evaluate_all(),
        )
        await service.settle()
        return [i.described() for i in await service.history(SCOPE, 0, NOW + 1)]

    history = asyncio.run(go())
    assert runner.runs == [("INSUFFICIENT_DATA", "ALARM", [TOPIC, BROKEN])]
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in history]
    assert kinds == [
        ("ConfigurationUpdate", 'Alarm "orders" created'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("Action", f"Successfully executed action {TOPIC}"),
        (
            "Action",
            f'Failed to execute action {BROKEN}. Received error: "NotFound: Topic does not exist"',
        ),
    ]
    ok, failed = (json.loads(h["HistoryData"]) for h in history[2:])
    assert ok["actionState"] == "Succeeded"
    assert ok["notificationResource"] == TOPIC
    assert failed["actionState"] == "Failed"
    state = json.loads(history[1]["HistoryData"])
    assert state["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert state["newState"]["stateValue"] == "ALARM"


def test_disabled_alarms_change_state_without_actions(parts: Any) -> None:
    service, metrics, runner, _ = parts

    async def go() -> str:
        await service.configure(SCOPE, config(ActionsEnabled=False))
        orders(metrics, 9)
        (alarm,) = await service.alarms(SCOPE)
        changed = await service.evaluated(SCOPE, alarm)
        await service.settle()
        assert runner.runs == []
        # Enabled again: the next change runs the OK actions.
        await service.set_actions_enabled(SCOPE, ["orders", "no-such-alarm"], True)
        assert await service.set_state(SCOPE, "orders", "OK", "by hand", None)
        await service.settle()
        return str(changed["StateValue"])

    assert asyncio.run(go()) == "ALARM"
    assert runner.runs == [("ALARM", "OK", [TOPIC])]


def test_set_state_runs_actions_only_on_a_change(parts: Any) -> None:
    service, _, runner, _ = parts

    async def go() -> dict[str, Any] | None:
        await service.configure(SCOPE, config())
        assert not await service.set_state(SCOPE, "missing", "ALARM", "x", None)
        assert await service.set_state(SCOPE, "orders", "ALARM", "testing", '{"k": 1}')
        assert await service.set_state(SCOPE, "orders", "ALARM", "again", None)
        await service.settle()
        return await service.alarm(SCOPE, "orders")

    alarm = asyncio.run(go())
    assert alarm is not None
    assert runner.runs == [("INSUFFICIENT_DATA", "ALARM", [TOPIC, BROKEN])]
    assert alarm["StateReason"] == "again"
    assert "StateReasonData" not in alarm


def test_an_update_keeps_the_state_and_history_outlives_the_alarm(parts: Any) -> None:
    service, _, _, clock = parts

    async def go() -> list[dict[str, Any]]:
        await service.configure(SCOPE, config())
        await service.set_state(SCOPE, "orders", "ALARM", "testing", None)
        await service.settle()
        clock[0] += 60
        await service.configure(SCOPE, config(Threshold=50))
        alarm = await service.alarm(SCOPE, "orders")
        assert alarm is not None
        assert alarm["StateValue"] == "ALARM"
        assert alarm["Threshold"] == 50
        await service.delete(SCOPE, ["orders"])
        assert await service.alarms(SCOPE) == []
        return [i.described() for i in await service.history(SCOPE, NOW + 30, NOW + 120)]

    later = asyncio.run(go())
    assert [h["HistorySummary"] for h in later] == [
        'Alarm "orders" updated',
        'Alarm "orders" deleted',
    ]
    update = json.loads(later[0]["HistoryData"])
    assert update["type"] == "Update"
    assert update["updatedAlarm"]["threshold"] == 50
    assert update["originalAlarm"]["threshold"] == 5


def test_an_alarm_deleted_while_read_is_not_brought_back(parts: Any) -> None:
    service, metrics, runner, _ = parts

    async def go() -> list[Any]:
        await service.configure(SCOPE, config())
        orders(metrics, 9)
        (alarm,) = await service.alarms(SCOPE)
        await service.delete(SCOPE, ["orders"])
        await service.evaluated(SCOPE, alarm)  # the timer's copy, read before the delete
        await service.settle()
        return await service.alarms(SCOPE)

    assert asyncio.run(go()) == []
    assert runner.runs == []


def test_an_accounts_pending_actions_are_bounded(parts: Any) -> None:
    """Actions that do not finish: beyond MAX_PENDING_ACTIONS state changes of one
    account, a change's actions are recorded as failed, not queued; another account's
    still run."""
    from lambdad.observe.alarms import MAX_PENDING_ACTIONS, TOO_MANY

    service, _, _, _ = parts
    release = asyncio.Event()
    other = Scope("444455556666", "us-east-1")

    class Stuck(Runner):
        async def run(self, *args: Any) -> list[ActionOutcome]:
            await release.wait()
            return await super().run(*args)

    service.actions = stuck = Stuck()

    async def go() -> list[dict[str, Any]]:
        await service.configure(SCOPE, config(AlarmActions=[TOPIC], OKActions=[TOPIC]))
        await service.configure(other, config(AlarmActions=[TOPIC]))
        for i in range(MAX_PENDING_ACTIONS + 2):
            await service.set_state(SCOPE, "orders", "ALARM" if i % 2 == 0 else "OK", "x", None)
        await service.set_state(other, "orders", "ALARM", "x", None)
        release.set()
        await service.settle()
        return [i.described() for i in await service.history(SCOPE, 0, NOW + 1)]

    history = asyncio.run(go())
    assert len(stuck.runs) == MAX_PENDING_ACTIONS + 1  # the other account's ran too
    failed = [json.loads(h["HistoryData"]) for h in history if h["HistoryItemType"] == "Action"]
    refused = [d for d in failed if d["actionState"] == "Failed"]
    assert [d["error"] for d in refused] == [TOO_MANY, TOO_MANY]


def test_another_worlds_alarm_does_not_wait_for_a_slow_state_change(parts: Any) -> None:
    """The state change event of one account's alarm is slow to send (its lock held);
    another account's SetAlarmState and a second alarm of the same account go ahead."""
    service, _, _, _ = parts
    release = asyncio.Event()
    sent: list[str] = []

    async def on_change(scope: Scope, entry: dict[str, Any]) -> None:
        if scope == SCOPE and json.loads(entry["Detail"])["alarmName"] == "orders":
            await release.wait()
        sent.append(f"{scope.account}:{json.loads(entry['Detail'])['alarmName']}")

    service.on_change = on_change
    other = Scope("444455556666", "us-east-1")

    async def go() -> None:
        for scope, name in ((SCOPE, "orders"), (SCOPE, "refunds"), (other, "orders")):
            await service.configure(scope, config(AlarmName=name))
        slow = asyncio.ensure_future(service.set_state(SCOPE, "orders", "ALARM", "x", None))
        await asyncio.sleep(0)
        await asyncio.wait_for(service.set_state(other, "orders", "ALARM", "x", None), 5)
        await asyncio.wait_for(service.set_state(SCOPE, "refunds", "ALARM", "x", None), 5)
        assert not slow.done()
        release.set()
        await slow
        await service.settle()

    asyncio.run(go())
    assert sent == ["444455556666:orders", "111122223333:refunds", "111122223333:orders"]


def test_history_older_than_30_days_is_not_described_in_a_quiet_world(parts: Any) -> None:
    """Items are pruned when items are added; a world with none added since still has
    its old ones stored, but they are not described."""
    service, _, _, clock = parts

    async def go() -> tuple[int, int]:
        await service.configure(SCOPE, config())
        fresh = len(await service.history(SCOPE, 0, clock[0] + 1))
        clock[0] += 31 * 86400
        return fresh, len(await service.history(SCOPE, 0, clock[0] + 1))

    assert asyncio.run(go()) == (1, 0)


def test_a_state_set_by_hand_holds_until_the_scheduled_evaluation(parts: Any) -> None:
    service, metrics, _, _ = parts

    async def go() -> list[str]:
        await service.configure(SCOPE, config())
        (created,) = await service.alarms(SCOPE)
        # Described as just created, its first transition included (recorded from AWS).
        assert created["StateTransitionedTimestamp"] == created["StateUpdatedTimestamp"]
        orders(metrics, 1)  # data that says OK
        await service.set_state(SCOPE, "orders", "ALARM", "testing alarm", None)
        seen = []
        for _ in range(2):  # reads (DescribeAlarms) see the state set
            (alarm,) = await service.alarms(SCOPE)
            seen.append((await service.evaluated(SCOPE, alarm))["StateValue"])
        await service.evaluate_all()  # the next scheduled evaluation
        (alarm,) = await service.alarms(SCOPE)
        seen.append((await service.evaluated(SCOPE, alarm))["StateValue"])
        await service.settle()
        return seen

    assert asyncio.run(go()) == ["ALARM", "ALARM", "OK"]
