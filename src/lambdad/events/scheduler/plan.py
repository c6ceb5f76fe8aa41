"""Scheduler's firing decisions, pure: when a schedule fires next (on the timer's
scaled time), how late a flexible window lets it fire, what a fire does with a tick
that came due while the server was down, and the payload its target gets.

Times are epoch seconds. Schedule time counts from the schedule's anchor (when it was
created or last updated) as the timer service counts it for rules: a schedule instant
F happens at ``anchor + (F - anchor) * scale``; at scale 1 both are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from lambdad.events.schedules import (
    At,
    Rate,
    ScheduleExpression,
    first_schedule_fire,
    next_fire,
    parse_schedule_expression,
)

# Scheduler's defaults for a target's RetryPolicy.
DEFAULT_MAX_RETRY_ATTEMPTS = 185
DEFAULT_MAX_EVENT_AGE = 86400


@dataclass(frozen=True, slots=True)
class Timing:
    """What decides when a schedule fires, read from its document."""

    expression: ScheduleExpression
    timezone: str
    start: datetime | None
    end: datetime | None
    window_minutes: int  # 0: FlexibleTimeWindow OFF

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Timing:
        window = doc.get("FlexibleTimeWindow") or {}
        return cls(
            expression=parse_schedule_expression(doc["ScheduleExpression"]),
            timezone=doc.get("ScheduleExpressionTimezone") or "UTC",
            start=_instant(doc.get("StartDate")),
            end=_instant(doc.get("EndDate")),
            window_minutes=int(window.get("MaximumWindowInMinutes") or 0)
            if window.get("Mode") == "FLEXIBLE"
            else 0,
        )

    @property
    def one_time(self) -> bool:
        return isinstance(self.expression, At)


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC)


def _to_schedule(real: float, anchor: float, scale: float) -> datetime:
    return datetime.fromtimestamp(anchor + (real - anchor) / scale, UTC)


def _to_real(fire: datetime | None, anchor: float, scale: float) -> float | None:
    return None if fire is None else anchor + (fire.timestamp() - anchor) * scale


def first_tick(timing: Timing, anchor: float, scale: float = 1.0) -> float | None:
    """The real instant of a new (or updated) schedule's first tick, at or after
    ``anchor``: a rate without StartDate fires at once; an ``at()`` answers its time
    even when it has passed (``overdue`` says what to do with it)."""
    scale = scale if scale > 0 else 1.0
    fire = first_schedule_fire(
        timing.expression,
        datetime.fromtimestamp(anchor, UTC),
        timing.timezone,
        timing.start,
        timing.end,
    )
    if fire is not None and timing.one_time:
        # A one-time schedule's instant is not scaled when it has passed already.
        return min(fire.timestamp(), _to_real(fire, anchor, scale) or fire.timestamp())
    return _to_real(fire, anchor, scale)


def next_tick(timing: Timing, anchor: float, after: float, scale: float = 1.0) -> float | None:
    """The real instant of the schedule's first tick strictly after ``after``."""
    if timing.one_time:
        return None
    scale = scale if scale > 0 else 1.0
    start = timing.start
    if start is None and isinstance(timing.expression, Rate):
        # A rate without StartDate counts from its anchor (it fired there first).
        start = datetime.fromtimestamp(anchor, UTC)
    fire = next_fire(
        timing.expression, _to_schedule(after, anchor, scale), timing.timezone, start, timing.end
    )
    return _to_real(fire, anchor, scale)


def flexible_delay(window_minutes: int, draw: float, scale: float = 1.0) -> float:
    """How long after its tick a fire happens: a draw in [0, 1) spread over the
    flexible window (real seconds); 0 when the window is OFF."""
    scale = scale if scale > 0 else 1.0
    return max(0.0, min(draw, 1.0)) * window_minutes * 60 * scale


class Overdue(Enum):
    FIRE = "fire"  # on time, or late within its event age
    SKIP = "skip"  # a recurring tick missed while the server was down: not replayed
    EXPIRED = "expired"  # a one-time tick older than its MaximumEventAgeInSeconds


def overdue(
    tick: float, now: float, started_at: float, *, one_time: bool, max_age: float
) -> Overdue:
    """What to do with a tick that came due. A recurring schedule's tick due before the
    service started is skipped, as rules' are; a one-time schedule fires late, once,
    unless the wait exceeds its target's ``MaximumEventAgeInSeconds``."""
    if one_time:
        return Overdue.EXPIRED if now - tick > max_age else Overdue.FIRE
    return Overdue.SKIP if tick < started_at else Overdue.FIRE


def scheduled_time(tick: float) -> str:
    """``<aws.scheduler.scheduled-time>``: 2022-03-22T18:59:43Z"""
    return datetime.fromtimestamp(tick, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_input(
    text: str | None, *, schedule_arn: str, tick: float, execution_id: str, attempt: int
) -> bytes:
    """The payload a fire hands its target: ``Input`` as given, with Scheduler's
    context attributes replaced; ``{}`` without one."""
    if not text:
        return b"{}"
    for keyword, value in (
        ("<aws.scheduler.schedule-arn>", schedule_arn),
        ("<aws.scheduler.scheduled-time>", scheduled_time(tick)),
        ("<aws.scheduler.execution-id>", execution_id),
        ("<aws.scheduler.attempt-number>", str(attempt)),
    ):
        text = text.replace(keyword, value)
    return text.encode()


def retry_limits(target: Mapping[str, Any]) -> tuple[int, int]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds) of a target, defaults filled."""
    policy = target.get("RetryPolicy") or {}
    attempts = policy.get("MaximumRetryAttempts")
    age = policy.get("MaximumEventAgeInSeconds")
    return (
        DEFAULT_MAX_RETRY_ATTEMPTS if attempts is None else int(attempts),
        DEFAULT_MAX_EVENT_AGE if age is None else int(age),
    )
