"""Scheduler's schedules through the service and the timer's firing, on a FakeClock over
an in-memory store: what a fire queues, when the next one is, completion, flexible
windows, and what goes to the dead-letter queue. The async queue and the dead-letter
sender are recorders."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from lambdad.clock import FakeClock
from lambdad.errors import ResourceNotFoundException
from lambdad.events.rule_store import EventStore, ScheduleEntry
from lambdad.events.scheduler.groups import GroupService
from lambdad.events.scheduler.schedules import ScheduleService
from lambdad.events.scheduler.store import ScheduleRef, SchedulerStore
from lambdad.events.scheduler.ticks import SchedulerTicks
from lambdad.events.timer import ScheduleTimer
from lambdad.model.scope import Scope
from lambdad.store.sqlite import SqliteStore

SCOPE = Scope("123456789012", "us-east-1")
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"
DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Queued:
    id: str
    payload: bytes
    invocation_type: str


@dataclass
class Invoker:
    queued: list[Queued] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)

    def prepare(self, request: Any, *, limit: int, operation: str) -> Queued:
        if request.function_name in self.missing:
            raise ResourceNotFoundException(f"Function not found: {request.function_name}")
        return Queued(request.request_id, request.payload, request.invocation_type)

    async def accept_many(self, events: list[Queued]) -> None:
        self.queued.extend(events)


@dataclass
class Letters:
    sent: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)

    def send(self, queue: str, source: str, body: str, attributes: dict[str, str]) -> None:
        self.sent.append((queue, source, body, dict(attributes)))


@dataclass
class World:
    clock: FakeClock
    events: EventStore
    schedules: SchedulerStore
    service: ScheduleService
    timer: ScheduleTimer
    invoker: Invoker
    letters: Letters

    def create(self, name: str, expression: str, **params: Any) -> None:
        target = {"Arn": FN, "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": '{"n":1}'}
        target.update(params.pop("Target", {}))
        request = {
            "Name": name,
            "ScheduleExpression": expression,
            "Target": target,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            **params,
        }
        asyncio.run(self.service.create_schedule(SCOPE, request))

    def entry(self, name: str) -> ScheduleEntry | None:
        return self.events.get_schedule(SCOPE, ScheduleRef("default", name).timer_key)

    def advance_to(self, at: float) -> None:
        self.clock.advance(at - self.clock.now().timestamp())
        asyncio.run(self.timer.fire_due())


@pytest.fixture
def world(store: SqliteStore) -> World:
    clock = FakeClock(T0)
    events, schedules = EventStore(store), SchedulerStore(store)
    invoker, letters = Invoker(), Letters()
    ticks = SchedulerTicks(
        schedules, events, cast(Any, invoker), cast(Any, letters), clock,
        max_payload=1 << 20, draw=lambda: 0.5,
    )  # fmt: skip
    timer = ScheduleTimer(events, cast(Any, None), clock, scheduled=ticks)
    groups = GroupService(schedules, clock, lambda scope, group: None)
    service = ScheduleService(schedules, groups, timer, ticks, clock)
    return World(clock, events, schedules, service, timer, invoker, letters)


def test_a_rate_fires_at_once_then_every_interval(world: World) -> None:
    world.create("every", "rate(5 minutes)")
    entry = world.entry("every")
    assert entry is not None
    assert entry.next == T0.timestamp()
    world.advance_to(T0.timestamp())
    assert [q.payload for q in world.invoker.queued] == [b'{"n":1}']
    assert world.invoker.queued[0].invocation_type == "Event"
    following = world.entry("every")
    assert following is not None
    assert following.next == T0.timestamp() + 300


def test_a_flexible_window_fires_later_and_keeps_the_nominal_tick(world: World) -> None:
    world.create(
        "flex",
        "rate(1 hour)",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
    )
    entry = world.entry("flex")
    assert entry is not None
    assert (entry.tick, entry.next) == (T0.timestamp(), T0.timestamp() + 300)  # draw 0.5
    world.advance_to(T0.timestamp() + 300)
    following = world.entry("flex")
    assert following is not None
    assert (following.tick, following.next) == (T0.timestamp() + 3600, T0.timestamp() + 3900)


def test_a_one_time_schedule_is_deleted_after_completion(world: World) -> None:
    at = T0 + timedelta(minutes=2)
    world.create("once", f"at({at:%Y-%m-%dT%H:%M:%S})", ActionAfterCompletion="DELETE")
    world.create("kept", f"at({at:%Y-%m-%dT%H:%M:%S})")
    world.advance_to(at.timestamp())
    assert len(world.invoker.queued) == 2
    assert world.schedules.get_schedule(SCOPE, ScheduleRef("default", "once")) is None
    assert world.schedules.get_schedule(SCOPE, ScheduleRef("default", "kept")) is not None
    assert world.entry("once") is None
    assert world.entry("kept") is None


def test_a_disabled_schedule_is_never_planned(world: World) -> None:
    world.create("off", "rate(1 minute)", State="DISABLED")
    assert world.entry("off") is None


def test_a_missing_function_goes_to_the_dead_letter_queue(world: World) -> None:
    world.invoker.missing.add("f")
    world.create("lost", "rate(1 minute)", Target={"DeadLetterConfig": {"Arn": DLQ}})
    world.advance_to(T0.timestamp())
    [(queue, source, body, attributes)] = world.letters.sent
    assert (queue, body) == (DLQ, '{"n":1}')
    assert source == "arn:aws:scheduler:us-east-1:123456789012:schedule/default/lost"
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"
    assert attributes["TARGET_ARN"] == FN
    assert world.invoker.queued == []


def test_a_one_time_tick_too_old_expires_to_the_dead_letter_queue(world: World) -> None:
    world.create(
        "late",
        "at(2026-05-01T11:00:00)",
        Target={"DeadLetterConfig": {"Arn": DLQ}, "RetryPolicy": {"MaximumEventAgeInSeconds": 60}},
    )
    world.advance_to(T0.timestamp())
    [(_, _, _, attributes)] = world.letters.sent
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert world.invoker.queued == []


def test_a_deleted_schedule_never_fires_again(world: World) -> None:
    world.create("gone", "rate(1 minute)")
    asyncio.run(world.service.delete_schedule(SCOPE, {"Name": "gone"}))
    world.advance_to(T0.timestamp() + 120)
    assert world.invoker.queued == []


def test_a_fire_that_fails_is_tried_again_a_minute_later(world: World) -> None:
    world.create("flaky", "rate(1 hour)")

    async def broken(events: list[Queued]) -> None:
        raise RuntimeError("disk gone")

    world.invoker.accept_many = broken  # type: ignore[method-assign]
    world.advance_to(T0.timestamp())
    entry = world.entry("flaky")
    assert entry is not None
    assert entry.next == T0.timestamp() + 60


def restarted(world: World, at: float) -> World:
    """The same store after a restart at ``at``: a new timer, started then."""
    world.clock.advance(at - world.clock.now().timestamp())
    timer = ScheduleTimer(
        world.events, cast(Any, None), world.clock, scheduled=world.timer.scheduled
    )
    return World(
        world.clock, world.events, world.schedules, world.service, timer, world.invoker,
        world.letters,
    )  # fmt: skip


def test_ticks_missed_while_down_are_not_replayed(world: World) -> None:
    world.create("hourly", "rate(1 hour)", StartDate=T0.timestamp() + 3600)
    after = restarted(world, T0.timestamp() + 3 * 3600 + 10)
    asyncio.run(after.timer.fire_due())
    assert after.invoker.queued == []
    entry = after.entry("hourly")
    assert entry is not None
    assert entry.next == T0.timestamp() + 4 * 3600


def test_a_one_time_schedule_due_while_down_fires_late_once(world: World) -> None:
    at = T0 + timedelta(minutes=5)
    world.create("once", f"at({at:%Y-%m-%dT%H:%M:%S})")
    after = restarted(world, at.timestamp() + 600)  # within the default day
    asyncio.run(after.timer.fire_due())
    asyncio.run(after.timer.fire_due())
    assert len(after.invoker.queued) == 1
