"""The timer service's scheduling decisions, pure: numbers in, numbers out (epoch
seconds), no store and no clock.

``scaled_next_fire`` maps a rule's schedule onto real time: schedule time counts from
the rule's anchor (when its schedule was put), so a schedule instant F happens at
``anchor + (F - anchor) * scale``; at scale 1 both are the same. ``tick_action`` says
what to do with a tick that has come due, and ``after_tick`` from where the next one
is looked for: past both the tick and now, so ticks missed while the server was down
(or while it was busy) are skipped, never replayed, as on AWS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

from lambdad.events.schedules import CronSchedule, Rate, next_rule_fire

# Past a fired tick: float rounding never brings the same tick back.
PAST = 1e-6


class TickAction(Enum):
    FIRE = "fire"
    MISSED = "missed"  # due before the service started: not replayed
    DISABLED = "disabled"  # the rule is disabled: its schedule runs on, silently


def scaled_next_fire(
    expression: Rate | CronSchedule, anchor: float, after: float, scale: float = 1.0
) -> float | None:
    """The real instant of the rule's first fire strictly after ``after``."""
    scale = scale if scale > 0 else 1.0
    start = datetime.fromtimestamp(anchor, UTC)
    scheduled_after = datetime.fromtimestamp(anchor + (after - anchor) / scale, UTC)
    fire = next_rule_fire(expression, scheduled_after, start)
    return None if fire is None else anchor + (fire.timestamp() - anchor) * scale


def tick_action(tick: float, started_at: float, enabled: bool) -> TickAction:
    if tick < started_at:
        return TickAction.MISSED
    return TickAction.FIRE if enabled else TickAction.DISABLED


def after_tick(tick: float, now: float) -> float:
    """Where the fire following ``tick`` is looked for, handled at ``now``."""
    return max(now, tick) + PAST
