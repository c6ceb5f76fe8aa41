"""The timer service: one asyncio task on the injected clock that fires the enabled
scheduled rules, each tick an event delivered to the rule's targets, and EventBridge
Scheduler's schedules (entries keyed ``scheduler:...``), each handed to ``Scheduled``.

Every scheduled rule's next fire time is durable (``rule_store``'s schedules); the
task sleeps until the earliest one (at most ``schedule_poll_interval``, woken at once
when a rule is planned or forgotten), fires what is due and stores the fire after
``now``. Ticks that came due while the server was down are not replayed, as on AWS:
a tick due before the service started is skipped, and the rule fires next on its own
schedule.

``schedule_time_scale`` shrinks schedule time for tests: with 0.01 a rule's minute
lasts 0.6 s of the clock. Schedule time counts from the rule's anchor (when its
schedule was put): the real instant of a schedule instant F is
``anchor + (F - anchor) * scale``; at 1 both are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from lambdad.clock import Clock
from lambdad.events.delivery import RuleDelivery
from lambdad.events.envelope import scheduled_event
from lambdad.events.names import rule_arn
from lambdad.events.rule_store import DEFAULT_BUS, EventStore, ScheduleEntry
from lambdad.events.rules import is_enabled
from lambdad.events.scheduler.store import TIMER_PREFIX as SCHEDULER_PREFIX
from lambdad.events.schedules import CronSchedule, Rate, parse_rule_expression
from lambdad.events.timer_plan import TickAction, after_tick, scaled_next_fire, tick_action
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)


# Seconds of schedule time before a schedule whose firing failed is tried again.
FAILED_RETRY = 60.0


class Scheduled(Protocol):
    """Fires Scheduler's due entries (``events.scheduler.ticks.SchedulerTicks``)."""

    async def fire(
        self, entry: ScheduleEntry, due: float, now: float, started_at: float
    ) -> float | None:
        """Run the entry's due tick; when it fires next (None: no more)."""
        ...


class ScheduleTimer:
    def __init__(
        self,
        events: EventStore,
        delivery: RuleDelivery,
        clock: Clock,
        *,
        time_scale: float = 1.0,
        poll_interval: float = 1.0,
        scheduled: Scheduled | None = None,
    ) -> None:
        self.events = events
        self.delivery = delivery
        self.clock = clock
        self.scale = time_scale if time_scale > 0 else 1.0
        self.poll_interval = poll_interval
        self.started_at = clock.now().timestamp()
        self.scheduled = scheduled
        self._wake = asyncio.Event()

    # -- the rules' side (rules.Schedules) ---------------------------------------------

    def plan(self, scope: Scope, rule: str, expression: Rate | CronSchedule) -> None:
        anchor = self.clock.now().timestamp()
        first = self.next_after(expression, anchor, anchor)
        self.events.put_schedule(ScheduleEntry(scope, rule, anchor, first))
        self._wake.set()

    def schedule(self, entry: ScheduleEntry) -> None:
        """Store when an entry fires next (a Scheduler schedule's plan)."""
        self.events.put_schedule(entry)
        self._wake.set()

    def forget(self, scope: Scope, rule: str) -> None:
        self.events.delete_schedule(scope, rule)
        self._wake.set()

    def next_after(
        self, expression: Rate | CronSchedule, anchor: float, after: float
    ) -> float | None:
        """The real instant of the rule's first fire strictly after ``after``."""
        return scaled_next_fire(expression, anchor, after, self.scale)

    # -- firing ------------------------------------------------------------------------

    async def run(self) -> None:
        self.started_at = self.clock.now().timestamp()
        while True:
            self._wake.clear()
            try:
                earliest = await self.fire_due()
            except Exception:
                log.exception("schedules: firing due rules failed")
                earliest = None
            timeout = self.poll_interval
            if earliest is not None:
                timeout = min(timeout, max(earliest - self.clock.now().timestamp(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def fire_due(self) -> float | None:
        """Fire every rule whose tick has come; the earliest next fire time."""
        now = self.clock.now().timestamp()
        earliest: float | None = None
        for entry in self.events.schedules():
            due = entry.next
            if due is not None and due <= now:
                due = await self._fire_entry(entry, due, now)
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return earliest

    async def _fire_entry(self, entry: ScheduleEntry, due: float, now: float) -> float | None:
        if not entry.rule.startswith(SCHEDULER_PREFIX):
            return await self._fire(entry, due, now)
        if self.scheduled is None:
            return None
        try:
            return await self.scheduled.fire(entry, due, now, self.started_at)
        except Exception:
            # One schedule's failure must not stop the others, nor spin on it: it is
            # tried again a minute (of schedule time) later.
            log.exception("schedule %s: firing failed; trying again later", entry.rule)
            later = now + FAILED_RETRY * self.scale
            self.events.put_schedule(replace(entry, next=later))
            return later

    async def _fire(self, entry: ScheduleEntry, tick: float, now: float) -> float | None:
        rule = self.events.get_rule(entry.scope, DEFAULT_BUS, entry.rule)
        if rule is None or not rule.get("ScheduleExpression"):
            self.events.delete_schedule(entry.scope, entry.rule)
            return None
        action = tick_action(tick, self.started_at, is_enabled(rule))
        if action is TickAction.MISSED:
            log.info(
                "rule %s: tick at %.3f missed while the server was down; not replayed",
                entry.rule,
                tick,
            )
        elif action is TickAction.FIRE:
            arn = rule_arn(entry.scope, DEFAULT_BUS, entry.rule)
            event = scheduled_event(
                entry.scope, arn, str(uuid.uuid4()), datetime.fromtimestamp(tick, UTC)
            )
            await self.delivery.deliver(entry.scope, rule, event)
        expression = parse_rule_expression(rule["ScheduleExpression"])
        following = self.next_after(expression, entry.anchor, after_tick(tick, now))
        current = self.events.get_schedule(entry.scope, entry.rule)
        # A PutRule while the tick was delivered planned the rule anew: that plan stands.
        if current is not None and current.anchor == entry.anchor:
            self.events.put_schedule(replace(entry, next=following))
        return following
