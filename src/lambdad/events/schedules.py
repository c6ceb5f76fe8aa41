"""Schedule expressions of EventBridge rules and EventBridge Scheduler, and when they
fire: parsing with AWS's validation messages, and ``next_fire`` as a pure function of
the time passed in (nothing here reads a clock). The timer service keeps the next
fire time durable and asks this module for the one after it.

Expressions: ``rate(N unit)`` (both services; ``rate(1 minute)``, ``rate(5 minutes)``:
singular exactly when N is 1), ``cron(...)`` (both; grammar in ``events.cron``) and
``at(yyyy-mm-ddThh:mm:ss)`` (Scheduler only). A refusal is one exception,
``InvalidScheduleError`` (a ``ValidationException``), carrying the message the service
answers: PutRule says ``Parameter ScheduleExpression is not valid.``; Scheduler says
``Invalid Schedule Expression <expression>.``.

When things fire:

- **Rules** run in UTC with minute precision. A rule's rate is anchored at the minute
  it was created and first fires one interval later (``rule_anchor``,
  ``first_rule_fire``, ``next_rule_fire``); a cron rule fires on its minutes.
- **Scheduler** evaluates cron and ``at()`` in ``ScheduleExpressionTimezone``. Its
  documented daylight-saving rule: a cron time that does not exist when clocks spring
  forward is skipped, and a cron time that repeats when clocks fall back fires only
  once — here at its first occurrence (the earlier instant); each minute of the
  repeated hour fires once. A rate is an elapsed duration (``rate(1 day)`` is 24 hours,
  so its wall-clock time moves by an hour across a change), anchored at ``StartDate``
  or, without one, at creation, when it fires at once. ``StartDate`` is the first
  instant a recurring schedule may fire, ``EndDate`` the instant from which it no longer
  does; both are ignored for ``at()``, as AWS documents.
- An ``at()`` time inside a spring-forward gap is read with the offset in force before
  the gap (``at(2024-03-10T02:30:00)`` in New York fires at 03:30 EDT): AWS documents
  skipping only for cron, and a one-time schedule that silently never fires is worse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lambdad.errors import ValidationException
from lambdad.events.cron import FIRST_YEAR, LAST_YEAR, Cron, CronSyntaxError, parse_cron

RULE_INVALID: Final = "Parameter ScheduleExpression is not valid."
START_TOO_EARLY: Final = "The StartDate you specify cannot be earlier than 5 minutes ago."
END_BEFORE_START: Final = "The EndDate you specify cannot be earlier than the StartDate."
START_DATE_GRACE: Final = timedelta(minutes=5)

_RATE = re.compile(r"rate\(([0-9]{1,12}) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\)")
_CRON = re.compile(r"cron\((.*)\)", re.DOTALL)
Unit = Literal["minute", "hour", "day"]
_UNITS: Final[Mapping[str, Unit]] = {
    "minute": "minute", "minutes": "minute", "hour": "hour", "hours": "hour",
    "day": "day", "days": "day",
}  # fmt: skip
_UNIT_SECONDS: Final[Mapping[Unit, int]] = {"minute": 60, "hour": 3600, "day": 86400}
_ONE_MINUTE: Final = timedelta(minutes=1)
_MICROSECOND: Final = timedelta(microseconds=1)
# Beyond the last cron year nothing fires; a rate far past it would overflow datetime.
_HORIZON: Final = datetime(LAST_YEAR + 1, 1, 2, tzinfo=UTC)
_DAWN: Final = datetime(1969, 12, 30, tzinfo=UTC)


class Service(Enum):
    """Who parses: the two services accept different expressions and word refusals apart."""

    RULES = "events"
    SCHEDULER = "scheduler"


class InvalidScheduleError(ValidationException):
    """A schedule expression, time zone or date window the service refuses, with the
    message it answers (400 ``ValidationException``)."""

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.expression = expression

    @property
    def code(self) -> str:
        return "ValidationException"  # what x-amzn-ErrorType / __type carries


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: every ``value`` units of elapsed time."""

    text: str
    value: int
    unit: Unit

    @property
    def seconds(self) -> int:
        return self.value * _UNIT_SECONDS[self.unit]


@dataclass(frozen=True)
class CronSchedule:
    """``cron(...)``: the fields, evaluated on the wall clock of the schedule's zone."""

    text: str
    cron: Cron


@dataclass(frozen=True)
class At:
    """``at(...)``: one wall-clock time in the schedule's zone (Scheduler only)."""

    text: str
    local: datetime  # naive


ScheduleExpression = Rate | CronSchedule | At


# -- parsing and validation -------------------------------------------------------------


def parse_rule_expression(text: str) -> Rate | CronSchedule:
    """The ``ScheduleExpression`` of an EventBridge rule (PutRule)."""
    expression = _parse(text)
    if expression is None or isinstance(expression, At):
        raise InvalidScheduleError(RULE_INVALID, expression=text)
    return expression


def parse_schedule_expression(text: str) -> ScheduleExpression:
    """The ``ScheduleExpression`` of an EventBridge Scheduler schedule."""
    expression = _parse(text)
    if expression is None:
        raise InvalidScheduleError(f"Invalid Schedule Expression {text}.", expression=text)
    return expression


def parse_expression(text: str, service: Service) -> ScheduleExpression:
    if service is Service.RULES:
        return parse_rule_expression(text)
    return parse_schedule_expression(text)


def _parse(text: str) -> ScheduleExpression | None:
    if m := _RATE.fullmatch(text):
        value, unit = int(m[1]), _UNITS[m[2]]
        if value < 1 or (value == 1) != (m[2] == unit):  # rate(1 minute), rate(5 minutes)
            return None
        return Rate(text, value, unit)
    if m := _CRON.fullmatch(text):
        try:
            return CronSchedule(text, parse_cron(m[1]))
        except CronSyntaxError:
            return None
    if m := _AT.fullmatch(text):
        try:
            year, month, day, hour, minute, second = (int(part) for part in m.groups())
            local = datetime(year, month, day, hour, minute, second)
        except ValueError:  # 2023-02-30, hour 24
            return None
        # The cron years bound at() too (AWS documents no range); it keeps every zone's
        # reading of the time inside datetime's.
        return At(text, local) if FIRST_YEAR <= year <= LAST_YEAR else None
    return None


def load_timezone(name: str) -> ZoneInfo:
    """``ScheduleExpressionTimezone``: an IANA zone the system's tzdata knows."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # OSError: a directory name
        raise InvalidScheduleError(f"Invalid Schedule Expression Timezone {name}.") from e


def validate_window(
    expression: ScheduleExpression,
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> None:
    """Scheduler's checks of ``StartDate``/``EndDate`` for a recurring schedule, at
    ``now`` (the request's time). ``at()`` schedules ignore both."""
    if isinstance(expression, At):
        return
    if start is not None and start < now - START_DATE_GRACE:
        raise InvalidScheduleError(START_TOO_EARLY)
    if start is not None and end is not None and end <= start:
        raise InvalidScheduleError(END_BEFORE_START)


# -- when it fires ----------------------------------------------------------------------


def next_fire(
    expression: ScheduleExpression | str,
    after: datetime,
    tz: str = "UTC",
    start: datetime | None = None,
    end: datetime | None = None,
) -> datetime | None:
    """The first fire strictly after ``after``, in UTC, or ``None`` when the schedule
    has no more (``at()`` passed, ``EndDate`` reached, the cron's last year gone).

    ``tz`` is the zone cron and ``at()`` are read in. ``start``/``end`` bound a
    recurring schedule (fires ``>= start`` and ``< end``); for a rate, ``start`` is
    also its anchor (fires at ``start + k * interval``) and, without it, the rate
    runs from ``after``. A string is parsed as Scheduler does (a superset of rules).
    All datetimes must be timezone-aware.
    """
    parsed = parse_schedule_expression(expression) if isinstance(expression, str) else expression
    return _next(parsed, after, load_timezone(tz), start, end, inclusive=False)


def rule_anchor(created_at: datetime) -> datetime:
    """Where a rule's rate counts from: the minute the rule was created (UTC)."""
    _require_aware(created_at=created_at)
    return created_at.astimezone(UTC).replace(second=0, microsecond=0)


def next_rule_fire(
    expression: Rate | CronSchedule, after: datetime, created_at: datetime
) -> datetime | None:
    """An EventBridge rule's next fire strictly after ``after`` (UTC)."""
    return _next(expression, after, UTC, rule_anchor(created_at), None, inclusive=False)


def first_rule_fire(expression: Rate | CronSchedule, created_at: datetime) -> datetime | None:
    """A new rule's first fire: one interval after its creation minute for a rate, the
    next matching minute after creation for a cron."""
    return next_rule_fire(expression, created_at, created_at)


def first_schedule_fire(
    expression: ScheduleExpression,
    created_at: datetime,
    tz: str = "UTC",
    start: datetime | None = None,
    end: datetime | None = None,
) -> datetime | None:
    """A new (or updated) Scheduler schedule's first fire, at or after ``created_at``.

    A rate without ``StartDate`` fires at once; one whose ``StartDate`` has passed
    resumes its phase at the first tick from ``created_at`` (past ticks are not
    replayed). An ``at()`` answers its instant even when that has passed: whether an
    overdue one-time schedule still fires is the timer service's policy.
    """
    zone = load_timezone(tz)
    if isinstance(expression, At):
        _require_aware(created_at=created_at)
        return _at_instant(expression, zone)
    if isinstance(expression, Rate) and start is None:
        start = created_at
    return _next(expression, created_at, zone, start, end, inclusive=True)


def _next(
    expression: ScheduleExpression,
    after: datetime,
    zone: tzinfo,
    start: datetime | None,
    end: datetime | None,
    *,
    inclusive: bool,
) -> datetime | None:
    _require_aware(after=after, start=start, end=end)
    # In UTC from here: Python adds and subtracts datetimes of one zone on the wall clock.
    after = after.astimezone(UTC)
    start = start.astimezone(UTC) if start is not None else None
    end = end.astimezone(UTC) if end is not None else None
    if isinstance(expression, At):
        instant = _at_instant(expression, zone)
        return instant if instant > after or (inclusive and instant == after) else None
    if start is not None and start > after:
        after, inclusive = start, True
    if after >= _HORIZON:
        return None
    if isinstance(expression, Rate):
        fire = _rate_next(expression, after, start if start is not None else after, inclusive)
    else:
        fire = _cron_next(expression.cron, max(after, _DAWN), zone, inclusive)
    if fire is None or (end is not None and fire >= end):
        return None
    return fire


def _rate_next(rate: Rate, after: datetime, anchor: datetime, inclusive: bool) -> datetime | None:
    if anchor > after or (inclusive and anchor == after):
        return anchor
    # Integer microseconds: rate(999999999999 days) overflows timedelta, not int.
    elapsed_us = (after - anchor) // _MICROSECOND
    period_us = rate.seconds * 1_000_000
    ticks, rest = divmod(elapsed_us, period_us)
    if rest or not inclusive:
        ticks += 1
    offset_us = ticks * period_us
    if offset_us >= (_HORIZON - anchor) // _MICROSECOND:
        return None
    return anchor + timedelta(microseconds=offset_us)


def _cron_next(cron: Cron, after: datetime, zone: tzinfo, inclusive: bool) -> datetime | None:
    """Walk the matching wall-clock minutes from ``after``'s wall time; keep the first
    that exists in ``zone`` and lies after ``after``. A minute in a spring-forward gap
    is skipped; in a fall-back overlap only its first occurrence counts, so minutes
    of the repeated hour seen from its second pass lie behind ``after`` and are passed.
    """
    wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
    if inclusive and wall.second == 0 and wall.microsecond == 0:
        candidate = cron.next_match(wall)
    else:
        candidate = cron.after(wall)
    while candidate is not None:
        instant = _resolve(candidate, zone)
        if instant is not None and (instant > after or (inclusive and instant == after)):
            return instant
        candidate = cron.next_match(candidate + _ONE_MINUTE)
    return None


def _resolve(wall: datetime, zone: tzinfo) -> datetime | None:
    """The instant of a wall-clock time in ``zone``: its first occurrence when it
    repeats, ``None`` when the zone skips it."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _at_instant(at: At, zone: tzinfo) -> datetime:
    # fold=0: a repeated time is its first occurrence; a skipped one takes the offset
    # in force before the gap, which lands it after the gap.
    return at.local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _require_aware(**moments: datetime | None) -> None:
    for name, moment in moments.items():
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware: {moment!r}")
