"""The timer's scheduling decisions on a FakeClock: scaling schedule time, skipping
ticks missed while down (never replayed), the next fire after disable and enable.
Pure functions directly; the timer itself over an in-memory rule store (no I/O)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from lambdad.clock import FakeClock
from lambdad.events.delivery import RuleDelivery
from lambdad.events.rule_store import EventStore, ScheduleEntry
from lambdad.events.schedules import parse_rule_expression
from lambdad.events.timer import ScheduleTimer
from lambdad.events.timer_plan import (
    PAST,
    TickAction,
    after_tick,
    scaled_next_fire,
    tick_action,
)
from lambdad.model.scope import Scope

SCOPE = Scope("123456789012", "us-east-1")
T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
MINUTE = parse_rule_expression("rate(1 minute)")


# -- the pure decisions ------------------------------------------------------------------


def test_unscaled_rate_fires_one_interval_after_the_anchor_minute() -> None:
    assert scaled_next_fire(MINUTE, T0, T0) == T0 + 60
    assert scaled_next_fire(MINUTE, T0, T0 + 60) == T0 + 120
    assert scaled_next_fire(MINUTE, T0, T0 + 61) == T0 + 120
    # Created mid-minute: the rate counts from the creation minute.
    assert scaled_next_fire(MINUTE, T0 + 30, T0 + 30) == T0 + 60


def test_scale_shrinks_schedule_time_from_the_anchor() -> None:
    assert scaled_next_fire(MINUTE, T0, T0, 0.01) == T0 + 0.6
    fire = scaled_next_fire(MINUTE, T0, T0 + 0.6 + PAST, 0.01)
    assert fire is not None
    assert abs(fire - (T0 + 1.2)) < 1e-6
    # Mid-minute anchor: the 30 schedule seconds to the minute last 0.3 s.
    fire = scaled_next_fire(MINUTE, T0 + 30, T0 + 30, 0.01)
    assert fire is not None
    assert abs(fire - (T0 + 30.3)) < 1e-6
    # A scale of 0 or less is no scale.
    assert scaled_next_fire(MINUTE, T0, T0, 0) == T0 + 60


def test_cron_fires_at_its_utc_minute() -> None:
    noon = parse_rule_expression("cron(0 12 * * ? *)")
    assert scaled_next_fire(noon, T0, T0) == T0 + 12 * 3600
    assert scaled_next_fire(noon, T0, T0 + 12 * 3600) == T0 + 36 * 3600


def test_tick_actions() -> None:
    assert tick_action(T0 + 60, T0, enabled=True) is TickAction.FIRE
    assert tick_action(T0 + 60, T0, enabled=False) is TickAction.DISABLED
    assert tick_action(T0 - 1, T0, enabled=True) is TickAction.MISSED
    assert tick_action(T0 - 1, T0, enabled=False) is TickAction.MISSED


def test_next_fire_is_looked_for_past_the_tick_and_now() -> None:
    assert after_tick(T0 + 60, T0 + 60) == T0 + 60 + PAST
    # Handled five minutes late: the ticks in between are skipped.
    late = after_tick(T0 + 60, T0 + 360)
    assert scaled_next_fire(MINUTE, T0, late) == T0 + 420


# -- the timer on a FakeClock --------------------------------------------------------------


class MemoryEvents:
    """The part of EventStore the timer uses, in a dict."""

    def __init__(self) -> None:
        self.rules: dict[str, dict[str, Any]] = {}
        self.entries: dict[str, ScheduleEntry] = {}

    def get_rule(self, scope: Scope, bus: str, name: str) -> dict[str, Any] | None:
        return self.rules.get(name)

    def schedules(self) -> list[ScheduleEntry]:
        return list(self.entries.values())

    def get_schedule(self, scope: Scope, rule: str) -> ScheduleEntry | None:
        return self.entries.get(rule)

    def put_schedule(self, entry: ScheduleEntry) -> None:
        self.entries[entry.rule] = entry

    def delete_schedule(self, scope: Scope, rule: str) -> None:
        self.entries.pop(rule, None)


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def deliver(self, scope: Scope, rule: dict[str, Any], event: dict[str, Any]) -> int:
        self.events.append(event)
        return 1


def timer(store: MemoryEvents, clock: FakeClock, recorder: Recorder) -> ScheduleTimer:
    return ScheduleTimer(cast(EventStore, store), cast(RuleDelivery, recorder), clock)


def setup(state: str = "ENABLED") -> tuple[MemoryEvents, FakeClock, Recorder, ScheduleTimer]:
    store, clock, recorder = MemoryEvents(), FakeClock(datetime.fromtimestamp(T0, UTC)), Recorder()
    store.rules["tick"] = {
        "Name": "tick",
        "EventBusName": "default",
        "ScheduleExpression": "rate(1 minute)",
        "State": state,
        "Targets": [],
    }
    t = timer(store, clock, recorder)
    t.plan(SCOPE, "tick", MINUTE)
    return store, clock, recorder, t


def fire(t: ScheduleTimer) -> float | None:
    return asyncio.run(t.fire_due())


def test_a_planned_rule_fires_on_its_tick_with_the_tick_as_time() -> None:
    store, clock, recorder, t = setup()
    assert store.entries["tick"].next == T0 + 60
    clock.advance(59)
    assert fire(t) == T0 + 60
    assert recorder.events == []
    clock.advance(1.2)
    assert fire(t) == T0 + 120
    [event] = recorder.events
    assert event["time"] == "2026-01-01T00:01:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/tick"]
    assert store.entries["tick"].next == T0 + 120


def test_a_late_timer_fires_once_and_skips_the_ticks_in_between() -> None:
    _, clock, recorder, t = setup()
    clock.advance(365)
    assert fire(t) == T0 + 420
    assert len(recorder.events) == 1


def test_ticks_missed_while_down_are_not_replayed() -> None:
    store, clock, recorder, _ = setup()
    clock.advance(600)  # down for ten minutes; a new timer starts on the same store
    restarted = timer(store, clock, recorder)
    assert fire(restarted) == T0 + 660
    assert recorder.events == []
    clock.advance(60)
    assert fire(restarted) == T0 + 720
    assert [e["time"] for e in recorder.events] == ["2026-01-01T00:11:00Z"]


def test_disabled_rule_keeps_its_schedule_silently_and_fires_again_once_enabled() -> None:
    store, clock, recorder, t = setup(state="DISABLED")
    clock.advance(60)
    assert fire(t) == T0 + 120
    clock.advance(60)
    assert fire(t) == T0 + 180
    assert recorder.events == []
    store.rules["tick"]["State"] = "ENABLED"
    clock.advance(30)  # enabled mid-interval: the next tick is on the rule's own schedule
    assert fire(t) == T0 + 180
    clock.advance(30)
    fire(t)
    assert [e["time"] for e in recorder.events] == ["2026-01-01T00:03:00Z"]


def test_a_deleted_rule_is_forgotten_and_never_fires() -> None:
    store, clock, recorder, t = setup()
    del store.rules["tick"]
    clock.advance(120)
    assert fire(t) is None
    assert store.entries == {}
    assert recorder.events == []


def test_forget_removes_the_schedule() -> None:
    _store, clock, recorder, t = setup()
    t.forget(SCOPE, "tick")
    clock.advance(120)
    assert fire(t) is None
    assert recorder.events == []
