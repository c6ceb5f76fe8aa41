"""AWS's six-field cron: the fields of ``cron(minutes hours day-of-month month
day-of-week year)`` and the calendar search over them, on wall-clock time.

This module knows nothing of time zones or of which service asked: ``parse_cron``
raises ``CronSyntaxError`` (a ``ValueError`` naming the fault, for logs), and
``lambdad.events.schedules`` words it as that service's ``ValidationException``
and maps wall-clock times to instants.

The grammar is the one the EventBridge and Scheduler guides document:

- minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week
  1-7 or SUN-SAT (1 is Sunday), year 1970-2199;
- ``,`` lists, ``-`` ranges, ``/`` increments (``0/15``, ``*/15``, ``1-31/30``), ``*``;
- exactly one of day-of-month and day-of-week is ``?``;
- day-of-month ``L`` (last day), ``LW`` (last weekday), ``15W`` (weekday nearest the
  15th, never leaving the month); day-of-week ``5L`` (last Thursday), ``3#2`` (second
  Tuesday; only one such term in the field) and ``L`` alone (Saturday, the last day
  of the week).

Choices where the guides are silent, following Quartz (the syntax AWS's is drawn
from): a range whose start is past its end wraps around (the guide's own example
``0/30 20-2 ? * MON-FRI *``), except in the year field; an increment is at most the
field's span; names and ``L``/``W`` are case-insensitive; ``/`` is accepted in the
day-of-week field (Quartz accepts it; some translations of the guide list it).

``Cron.next_match`` skips by fields — year, month, day, hour, minute — so finding the
next match of ``cron(0 0 29 2 ? 2096)`` from 1970 takes a few hundred steps, and a
cron that never matches (``cron(0 0 30 2 ? *)``) answers ``None`` after at most two
steps a year up to 2199.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

FIRST_YEAR = 1970
LAST_YEAR = 2199

MONTH_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
DAY_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}

_NUMBER = re.compile(r"[0-9]{1,4}")
_NEAREST_WEEKDAY = re.compile(r"([0-9]{1,2})W")
_LAST_OF = re.compile(r"([0-9]|[A-Z]{3})L")
_NTH_OF = re.compile(r"([0-9]|[A-Z]{3})#([0-9])")
_ONE_MINUTE = timedelta(minutes=1)


class CronSyntaxError(ValueError):
    """The cron body breaks AWS's grammar; the message says where (not AWS's words)."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int]
    cyclic: bool = True

    @property
    def span(self) -> int:
        return self.high - self.low + 1


MINUTES = _Field("minutes", 0, 59, {})
HOURS = _Field("hours", 0, 23, {})
DAY_OF_MONTH = _Field("day-of-month", 1, 31, {})
MONTH = _Field("month", 1, 12, MONTH_NAMES)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, DAY_NAMES)
YEAR = _Field("year", FIRST_YEAR, LAST_YEAR, {}, cyclic=False)


class DayRule(Enum):
    """How the day-of-month or day-of-week field picks days."""

    ANY = "?"
    SET = "set"  # the days (or weekdays) listed
    LAST = "L"  # day-of-month: the last day
    LAST_WEEKDAY = "LW"  # day-of-month: the last Monday-Friday
    NEAREST_WEEKDAY = "W"  # day-of-month: the Monday-Friday nearest day ``n``
    LAST_OF = "nL"  # day-of-week: the last weekday ``n`` of the month
    NTH_OF = "n#k"  # day-of-week: the ``k``-th weekday ``n`` of the month


@dataclass(frozen=True)
class DaySpec:
    rule: DayRule
    values: frozenset[int] = frozenset()
    n: int = 0  # the day (W), the weekday (nL, n#k)
    k: int = 0  # the occurrence (n#k)


@dataclass(frozen=True)
class Cron:
    """A parsed ``cron(...)``: sorted allowed values per field, and the day rules."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DaySpec
    months: tuple[int, ...]
    day_of_week: DaySpec
    years: tuple[int, ...]

    def days_in(self, year: int, month: int) -> tuple[int, ...]:
        """The days of ``month`` the day fields allow, ascending."""
        length = calendar.monthrange(year, month)[1]
        if self.day_of_month.rule is not DayRule.ANY:
            return _month_days(self.day_of_month, year, month, length)
        return _week_days(self.day_of_week, aws_weekday(datetime(year, month, 1)), length)

    def matches(self, wall: datetime) -> bool:
        """Whether the wall-clock minute of ``wall`` is one this cron names."""
        return (
            wall.year in self.years
            and wall.month in self.months
            and wall.day in self.days_in(wall.year, wall.month)
            and wall.hour in self.hours
            and wall.minute in self.minutes
        )

    def next_match(self, wall: datetime) -> datetime | None:
        """The first matching minute at or after ``wall`` (naive, whole minute), or
        ``None`` when none is left before 2200."""
        y, mo, d, h, mi = wall.year, wall.month, wall.day, wall.hour, wall.minute
        while True:
            i = bisect_left(self.years, y)
            if i == len(self.years):
                return None
            if self.years[i] != y:
                y, mo, d, h, mi = self.years[i], 1, 1, 0, 0
            i = bisect_left(self.months, mo)
            if i == len(self.months):
                y, mo, d, h, mi = y + 1, 1, 1, 0, 0
                continue
            if self.months[i] != mo:
                mo, d, h, mi = self.months[i], 1, 0, 0
            days = self.days_in(y, mo)
            i = bisect_left(days, d)
            if i == len(days):
                y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
                d, h, mi = 1, 0, 0
                continue
            if days[i] != d:
                d, h, mi = days[i], 0, 0
            i = bisect_left(self.hours, h)
            if i == len(self.hours):
                d, h, mi = d + 1, 0, 0  # past the month's end: the day search moves on
                continue
            if self.hours[i] != h:
                h, mi = self.hours[i], 0
            i = bisect_left(self.minutes, mi)
            if i == len(self.minutes):
                h, mi = h + 1, 0
                continue
            return datetime(y, mo, d, h, self.minutes[i])

    def after(self, wall: datetime) -> datetime | None:
        """The first matching minute strictly after ``wall``."""
        if wall.year > LAST_YEAR:
            return None
        start = wall.replace(second=0, microsecond=0, tzinfo=None, fold=0) + _ONE_MINUTE
        return self.next_match(start)


def aws_weekday(day: datetime) -> int:
    """AWS's day-of-week number: 1 is Sunday, 7 is Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _month_days(spec: DaySpec, year: int, month: int, length: int) -> tuple[int, ...]:
    if spec.rule is DayRule.SET:
        return tuple(sorted(d for d in spec.values if d <= length))
    if spec.rule is DayRule.LAST:
        return (length,)
    if spec.rule is DayRule.LAST_WEEKDAY:
        weekday = calendar.weekday(year, month, length)  # Monday is 0
        return (length - max(0, weekday - 4),)
    # NEAREST_WEEKDAY: Saturday moves to Friday and Sunday to Monday, unless that
    # leaves the month; then it goes two days the other way. A day past the month's
    # end (31W in April) names no day.
    day = spec.n
    if day > length:
        return ()
    weekday = calendar.weekday(year, month, day)
    if weekday == 5:
        return (day + 2,) if day == 1 else (day - 1,)
    if weekday == 6:
        return (day - 2,) if day == length else (day + 1,)
    return (day,)


def _week_days(spec: DaySpec, first: int, length: int) -> tuple[int, ...]:
    """``first`` is the AWS weekday of the 1st."""

    def weekday(day: int) -> int:
        return (first - 1 + day - 1) % 7 + 1

    if spec.rule is DayRule.SET:
        return tuple(d for d in range(1, length + 1) if weekday(d) in spec.values)
    if spec.rule is DayRule.LAST_OF:
        return (length - (weekday(length) - spec.n) % 7,)
    # NTH_OF
    day = 1 + (spec.n - first) % 7 + 7 * (spec.k - 1)
    return (day,) if day <= length else ()


# -- parsing ----------------------------------------------------------------------------


def parse_cron(body: str) -> Cron:
    """The six fields between ``cron(`` and ``)``, separated by spaces."""
    if body != body.strip():
        raise CronSyntaxError("space before the first field or after the last")
    fields = body.upper().split()
    if len(fields) != 6:
        raise CronSyntaxError(f"{len(fields)} fields, not 6")
    minutes, hours, dom, months, dow, years = fields
    day_of_month = _day_of_month(dom)
    day_of_week = _day_of_week(dow)
    if (day_of_month.rule is DayRule.ANY) == (day_of_week.rule is DayRule.ANY):
        raise CronSyntaxError("exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        minutes=_sorted(_values(minutes, MINUTES)),
        hours=_sorted(_values(hours, HOURS)),
        day_of_month=day_of_month,
        months=_sorted(_values(months, MONTH)),
        day_of_week=day_of_week,
        years=_sorted(_values(years, YEAR)),
    )


def _sorted(values: frozenset[int]) -> tuple[int, ...]:
    return tuple(sorted(values))


def _day_of_month(token: str) -> DaySpec:
    if token == "?":
        return DaySpec(DayRule.ANY)
    if token == "L":
        return DaySpec(DayRule.LAST)
    if token == "LW":
        return DaySpec(DayRule.LAST_WEEKDAY)
    if m := _NEAREST_WEEKDAY.fullmatch(token):
        return DaySpec(DayRule.NEAREST_WEEKDAY, n=_value(m[1], DAY_OF_MONTH))
    return DaySpec(DayRule.SET, _values(token, DAY_OF_MONTH))


def _day_of_week(token: str) -> DaySpec:
    if token == "?":
        return DaySpec(DayRule.ANY)
    if token == "L":
        return DaySpec(DayRule.SET, frozenset({7}))
    if m := _LAST_OF.fullmatch(token):
        return DaySpec(DayRule.LAST_OF, n=_value(m[1], DAY_OF_WEEK))
    if m := _NTH_OF.fullmatch(token):
        k = int(m[2])
        if not 1 <= k <= 5:
            raise CronSyntaxError(f"day-of-week: no {k}th weekday in a month")
        return DaySpec(DayRule.NTH_OF, n=_value(m[1], DAY_OF_WEEK), k=k)
    return DaySpec(DayRule.SET, _values(token, DAY_OF_WEEK))


def _values(token: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in token.split(","):
        values |= _item(item, field)
    return frozenset(values)


def _item(item: str, field: _Field) -> set[int]:
    base, slash, increment = item.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(increment) or not 1 <= int(increment) <= field.span:
            raise CronSyntaxError(f"{field.name}: bad increment {increment!r}")
        step = int(increment)
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _value(first, field), _value(last, field)
        if start > end and not field.cyclic:
            raise CronSyntaxError(f"{field.name}: range {base!r} runs backwards")
    else:
        start = _value(base, field)
        end = field.high if slash else start
    # A range that wraps (hours 20-2) runs to the field's end and on from its start.
    length = (end - start) % field.span
    return {field.low + (start - field.low + o) % field.span for o in range(0, length + 1, step)}


def _value(token: str, field: _Field) -> int:
    if _NUMBER.fullmatch(token):
        value = int(token)
        if field.low <= value <= field.high:
            return value
    elif token in field.names:
        return field.names[token]
    raise CronSyntaxError(f"{field.name}: {token!r} is not a value of the field")
