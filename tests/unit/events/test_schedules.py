"""Schedule expressions of EventBridge rules and Scheduler: AWS's documented examples,
its validation answers, daylight-saving changes, L/W/#, and properties of next_fire
checked against an oracle written here from the guides' wording, not from the code."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdad.errors import ValidationException
from lambdad.events.schedules import (
    RULE_INVALID,
    START_TOO_EARLY,
    At,
    CronSchedule,
    InvalidScheduleError,
    Rate,
    Service,
    first_rule_fire,
    first_schedule_fire,
    load_timezone,
    next_fire,
    next_rule_fire,
    parse_expression,
    parse_rule_expression,
    parse_schedule_expression,
    rule_anchor,
    validate_window,
)

NEW_YORK = "America/New_York"
LONDON = "Europe/London"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    """A wall time in ``zone`` (``fold=1``: the second pass of a repeated hour)."""
    return utc(*parts).replace(tzinfo=ZoneInfo(zone), fold=fold)


def fires(
    expression: str, after: datetime, n: int, tz: str = "UTC", **bounds: datetime
) -> list[datetime]:
    out: list[datetime] = []
    while len(out) < n:
        nxt = next_fire(expression, after, tz, **bounds)
        if nxt is None:
            break
        out.append(nxt)
        after = nxt
    return out


# -- the EventBridge user guide's examples ("Creating a rule that runs on a schedule") ---

MONDAY = utc(2024, 1, 1)  # a Monday


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        pytest.param(
            "cron(0 10 * * ? *)",
            MONDAY,
            [utc(2024, 1, 1, 10), utc(2024, 1, 2, 10), utc(2024, 1, 3, 10)],
            id="table: run at 10:00 am (UTC+0) every day",
        ),
        pytest.param(
            "cron(15 12 * * ? *)",
            MONDAY,
            [utc(2024, 1, 1, 12, 15), utc(2024, 1, 2, 12, 15), utc(2024, 1, 3, 12, 15)],
            id="table: run at 12:15 pm (UTC+0) every day",
        ),
        pytest.param(
            "cron(0 18 ? * MON-FRI *)",
            utc(2024, 1, 4, 19),  # Thursday evening
            [utc(2024, 1, 5, 18), utc(2024, 1, 8, 18), utc(2024, 1, 9, 18)],
            id="table: run at 6:00 pm (UTC+0) every Monday through Friday",
        ),
        pytest.param(
            "cron(0 8 1 * ? *)",
            MONDAY,
            [utc(2024, 1, 1, 8), utc(2024, 2, 1, 8), utc(2024, 3, 1, 8)],
            id="table: run at 8:00 am (UTC+0) every 1st day of the month",
        ),
        pytest.param(
            "cron(0/15 * * * ? *)",
            utc(2024, 1, 1, 23, 40),
            [utc(2024, 1, 1, 23, 45), utc(2024, 1, 2), utc(2024, 1, 2, 0, 15)],
            id="table: run every 15 minutes",
        ),
        pytest.param(
            "cron(0/10 * ? * MON-FRI *)",
            utc(2024, 1, 5, 23, 45),  # Friday
            [utc(2024, 1, 5, 23, 50), utc(2024, 1, 8), utc(2024, 1, 8, 0, 10)],
            id="table: run every 10 minutes Monday through Friday",
        ),
        pytest.param(
            "cron(0/5 8-17 ? * MON-FRI *)",
            utc(2024, 1, 1, 17, 50),
            [utc(2024, 1, 1, 17, 55), utc(2024, 1, 2, 8), utc(2024, 1, 2, 8, 5)],
            id="table: run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm",
        ),
        pytest.param(
            # The wrapping hour range; the day-of-week is the day of each tick, so
            # Monday's small hours run and Saturday's do not.
            "cron(0/30 20-2 ? * MON-FRI *)",
            utc(2024, 1, 5, 23, 10),  # Friday
            [utc(2024, 1, 5, 23, 30), utc(2024, 1, 8), utc(2024, 1, 8, 0, 30)],
            id="table: run every 30 minutes Monday through Friday between 10:00 pm and 2:00 am",
        ),
        pytest.param(
            "cron(0 12 * * ? *)",
            utc(2024, 1, 1, 12),
            [utc(2024, 1, 2, 12), utc(2024, 1, 3, 12), utc(2024, 1, 4, 12)],
            id="put-rule: runs every day at 12:00pm UTC+0 (MyRule1)",
        ),
        pytest.param(
            "cron(5,35 14 * * ? *)",
            MONDAY,
            [utc(2024, 1, 1, 14, 5), utc(2024, 1, 1, 14, 35), utc(2024, 1, 2, 14, 5)],
            id="put-rule: runs every day at 2:05pm and 2:35pm UTC+0 (MyRule2)",
        ),
        pytest.param(
            "cron(15 10 ? * 6L 2019-2022)",
            utc(2022, 10, 1),
            [utc(2022, 10, 28, 10, 15), utc(2022, 11, 25, 10, 15), utc(2022, 12, 30, 10, 15)],
            id="put-rule: 10:15am UTC+0 on the last Friday of each month in 2019-2022 (MyRule3)",
        ),
    ],
)
def test_the_guides_cron_examples(
    expression: str, after: datetime, expected: list[datetime]
) -> None:
    parse_rule_expression(expression)
    assert fires(expression, after, len(expected)) == expected


def test_the_last_friday_example_stops_after_2022() -> None:
    assert next_fire("cron(15 10 ? * 6L 2019-2022)", utc(2022, 12, 30, 10, 15)) is None


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        pytest.param("rate(1 minute)", 60, id="put-rule: rate(1 minute)"),
        pytest.param("rate(5 minutes)", 300, id="put-rule: rate(5 minutes)"),
        pytest.param("rate(1 hour)", 3600, id="put-rule: rate(1 hour)"),
        pytest.param("rate(1 day)", 86400, id="put-rule: rate(1 day)"),
    ],
)
def test_the_guides_rate_examples(expression: str, seconds: int) -> None:
    rate = parse_rule_expression(expression)
    assert isinstance(rate, Rate)
    assert rate.seconds == seconds


@pytest.mark.parametrize(
    "expression",
    [  # accepted by AWS (recorded against it in LocalStack's validated snapshots)
        "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)",
        "cron(30-30 13-13 ? * 2,4,6 *)",
        "cron(1-31/30 1-1 ? * 1,7 *)",
        "cron(*/15 * * * ? *)",
        "cron(0-59/10 0-23/2 ? * * *)",
        "cron(0 2 ? * SAT#3 *)",
        "cron(* * ? * SAT#3 *)",
        "cron(0/5 5 ? JAN 1-5 2022)",
        "cron(15 10 ? * 6L 2002-2005)",
    ],
)
def test_expressions_aws_accepts_parse_for_both_services(expression: str) -> None:
    assert isinstance(parse_rule_expression(expression), CronSchedule)
    assert isinstance(parse_schedule_expression(expression), CronSchedule)


# -- refusals, in each service's words -----------------------------------------------------

REFUSED_BY_BOTH = [
    "cron(0 1 * * * *)",  # a value in both day fields
    "cron(0 1 ? * ? *)",  # '?' in both
    "cron(7 20 * * NOT *)",
    "cron(INVALID)",
    "cron(0 dummy ? * MON-FRI *)",
    "cron(71 8 1 * ? *)",
    "cron()",
    "cron(0 8 1 * ? * *)",  # seven fields
    "cron(0 8 1 * ?)",  # five
    "cron(0 24 * * ? *)",
    "cron(0 8 32 * ? *)",
    "cron(0 8 ? 13 * *)",
    "cron(0 8 ? * 8 *)",
    "cron(0 8 ? * 0 *)",
    "cron(0 8 1 * ? 1969)",
    "cron(0 8 1 * ? 2200)",
    "cron(0 8 1 * ? 2030-2025)",  # years do not wrap
    "cron(0/0 8 1 * ? *)",
    "cron(0/61 8 1 * ? *)",
    "cron(0 8 ? * 3#1,6#3 *)",  # one '#' term only
    "cron(0 8 ? * 3#6 *)",
    "cron(0 8 L,1 * ? *)",
    "cron(0 8 1W,15W * ? *)",
    "cron(0 8 32W * ? *)",
    "cron(0 8 ? * 1-3L *)",
    "cron(0 8 1 * ? *",
    "cron( 0 8 1 * ? *)",
    "cron(0 8 1,,2 * ? *)",
    "cron(0 8 ? * MON-FRI/x *)",
    "cron(0 ? 1 * ? *)",
    "rate(10 seconds)",
    "rate(10 years)",
    "rate(1 minutes)",
    "rate(1 hours)",
    "rate(1 days)",
    "rate(10 minute)",
    "rate(10 hour)",
    "rate(10 day)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(0 minutes)",
    "rate(-10 minutes)",
    "rate(10 MINUTES)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    "rate(10  minutes)",
    "every 5 minutes",
    "",
]


@pytest.mark.parametrize("expression", REFUSED_BY_BOTH)
def test_putrule_refuses_with_its_one_message(expression: str) -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        parse_rule_expression(expression)
    assert caught.value.message == RULE_INVALID


@pytest.mark.parametrize("expression", REFUSED_BY_BOTH)
def test_scheduler_refuses_naming_the_expression(expression: str) -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        parse_schedule_expression(expression)
    assert caught.value.message == f"Invalid Schedule Expression {expression}."


@pytest.mark.parametrize(
    "expression",
    [
        "at(2021-12-31T23:59:59Z)",
        "at(2021-12-31)",
        "at(2023-02-29T10:00:00)",
        "at(2023-01-01T24:00:00)",
        "at(9999-12-31T23:59:59)",  # past the years cron allows
        "at(0001-01-01T00:00:00)",
    ],
)
def test_scheduler_refuses_malformed_at(expression: str) -> None:
    with pytest.raises(InvalidScheduleError, match="Invalid Schedule Expression at"):
        parse_schedule_expression(expression)


def test_at_is_scheduler_only() -> None:
    at = parse_schedule_expression("at(2022-12-31T23:59:59)")
    assert at == At("at(2022-12-31T23:59:59)", datetime(2022, 12, 31, 23, 59, 59))
    with pytest.raises(InvalidScheduleError, match=RULE_INVALID):
        parse_rule_expression("at(2022-12-31T23:59:59)")
    with pytest.raises(InvalidScheduleError, match=RULE_INVALID):
        parse_expression("at(2022-12-31T23:59:59)", Service.RULES)


def test_the_refusal_is_a_400_validation_exception() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_schedule_expression("rate(10)")
    error = caught.value
    assert (error.status, error.code) == (400, "ValidationException")
    assert error.body() == {"Type": "User", "message": "Invalid Schedule Expression rate(10)."}


def test_names_and_letters_are_case_insensitive() -> None:
    assert fires("cron(0 9 ? jan mon#1 *)", utc(2024, 6, 1), 1) == [utc(2025, 1, 6, 9)]
    assert fires("cron(0 9 lw * ? *)", utc(2024, 6, 1), 1) == [utc(2024, 6, 28, 9)]


# -- L, W and # ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day_of_month", "after", "expected_day"),
    [
        ("L", utc(2024, 2, 1), utc(2024, 2, 29)),  # leap February
        ("L", utc(2023, 2, 1), utc(2023, 2, 28)),
        ("LW", utc(2024, 3, 1), utc(2024, 3, 29)),  # March 31 is a Sunday
        ("LW", utc(2024, 8, 1), utc(2024, 8, 30)),  # August 31 is a Saturday
        ("LW", utc(2024, 7, 1), utc(2024, 7, 31)),  # already a Wednesday
        ("15W", utc(2024, 6, 1), utc(2024, 6, 14)),  # the 15th a Saturday: Friday
        ("16W", utc(2024, 6, 1), utc(2024, 6, 17)),  # the 16th a Sunday: Monday
        ("1W", utc(2024, 6, 1), utc(2024, 6, 3)),  # the 1st a Saturday: not back into May
        ("30W", utc(2024, 6, 1), utc(2024, 6, 28)),  # the 30th a Sunday, the last day
        ("31W", utc(2024, 6, 1), utc(2024, 7, 31)),  # no 31st in June: July's
        ("3W", utc(2024, 1, 1), utc(2024, 1, 3)),  # a weekday stays put
    ],
)
def test_day_of_month_l_and_w(day_of_month: str, after: datetime, expected_day: datetime) -> None:
    assert next_fire(f"cron(0 0 {day_of_month} * ? *)", after) == expected_day


@pytest.mark.parametrize(
    ("day_of_week", "after", "expected"),
    [
        ("5L", utc(2024, 2, 1), [utc(2024, 2, 29), utc(2024, 3, 28)]),  # last Thursdays
        ("1L", utc(2024, 3, 1), [utc(2024, 3, 31), utc(2024, 4, 28)]),  # last Sundays
        ("3#2", utc(2024, 1, 1), [utc(2024, 1, 9), utc(2024, 2, 13)]),  # second Tuesdays
        # A fifth Tuesday: only months that have one (2024: Jan, Apr, Jul, Oct, Dec).
        ("3#5", utc(2024, 1, 31), [utc(2024, 4, 30), utc(2024, 7, 30)]),
        ("L", utc(2024, 1, 1), [utc(2024, 1, 6), utc(2024, 1, 13)]),  # alone: Saturdays
        ("FRI-MON", utc(2024, 1, 1), [utc(2024, 1, 5), utc(2024, 1, 6), utc(2024, 1, 7)]),
    ],
)
def test_day_of_week_l_and_hash(
    day_of_week: str, after: datetime, expected: list[datetime]
) -> None:
    assert fires(f"cron(0 0 ? * {day_of_week} *)", after, len(expected)) == expected


def test_day_1_as_sunday_is_aws_numbering() -> None:
    assert next_fire("cron(0 0 ? * 1 *)", MONDAY) == utc(2024, 1, 7)
    assert next_fire("cron(0 0 ? * 7 *)", MONDAY) == utc(2024, 1, 6)


# -- far-off and never --------------------------------------------------------------------


def test_a_leap_day_far_away_is_found_by_skipping_fields() -> None:
    began = time.perf_counter()
    assert next_fire("cron(0 0 29 2 ? 2096)", utc(1970, 1, 1)) == utc(2096, 2, 29)
    assert fires("cron(0 0 29 2 ? *)", utc(2096, 3, 1), 2) == [utc(2104, 2, 29), utc(2108, 2, 29)]
    assert next_fire("cron(0 0 30 2 ? *)", utc(1970, 1, 1)) is None  # never
    # A fifth Monday in February: a leap year whose February starts on a Monday.
    assert next_fire("cron(0 0 ? 2 2#5 *)", utc(2020, 3, 1)) == utc(2044, 2, 29)
    # Field skipping answers in milliseconds; scanning minutes would take minutes.
    assert time.perf_counter() - began < 1.0


def test_nothing_fires_after_2199() -> None:
    assert next_fire("cron(59 23 31 12 ? *)", utc(2199, 12, 31, 23, 59)) is None
    assert next_fire("cron(* * * * ? *)", datetime.max.replace(tzinfo=UTC)) is None
    assert next_fire("rate(999999999999 days)", utc(2024, 1, 1), start=utc(2023, 1, 1)) is None


def test_before_1970_the_first_fire_is_in_1970() -> None:
    assert next_fire("cron(0 0 1 1 ? *)", datetime.min.replace(tzinfo=UTC)) == utc(1970, 1, 1)


def test_after_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire("rate(1 minute)", datetime(2024, 1, 1))


# -- daylight saving time (Scheduler's ScheduleExpressionTimezone) -------------------------


def test_spring_forward_skips_a_time_that_does_not_exist() -> None:
    # 2024-03-10 02:00 EST -> 03:00 EDT: 02:30 never happens that day.
    assert fires("cron(30 2 * * ? *)", local(NEW_YORK, 2024, 3, 9), 3, NEW_YORK) == [
        local(NEW_YORK, 2024, 3, 9, 2, 30),
        local(NEW_YORK, 2024, 3, 11, 2, 30),
        local(NEW_YORK, 2024, 3, 12, 2, 30),
    ]


def test_spring_forward_in_london() -> None:
    # 2024-03-31 01:00 GMT -> 02:00 BST.
    assert fires("cron(0/20 1 * * ? *)", local(LONDON, 2024, 3, 30, 2), 4, LONDON) == [
        local(LONDON, 2024, 4, 1, 1, 0),
        local(LONDON, 2024, 4, 1, 1, 20),
        local(LONDON, 2024, 4, 1, 1, 40),
        local(LONDON, 2024, 4, 2, 1, 0),
    ]


def test_fall_back_fires_a_repeated_time_once_at_its_first_occurrence() -> None:
    # 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 happens twice; it fires at 01:30 EDT.
    assert fires("cron(30 1 * * ? *)", local(NEW_YORK, 2024, 11, 2, 12), 2, NEW_YORK) == [
        utc(2024, 11, 3, 5, 30),  # 01:30 EDT
        utc(2024, 11, 4, 6, 30),  # 01:30 EST the next day
    ]


def test_fall_back_every_15_minutes_does_not_repeat_the_hour() -> None:
    got = fires("cron(0/15 * * * ? *)", utc(2024, 11, 3, 5, 30), 4, NEW_YORK)
    # 01:45 EDT, then the repeated 01:00-01:59 EST is not run again: 02:00 EST.
    assert got == [
        utc(2024, 11, 3, 5, 45),
        utc(2024, 11, 3, 7),
        utc(2024, 11, 3, 7, 15),
        utc(2024, 11, 3, 7, 30),
    ]


def test_from_inside_the_repeated_hour_the_next_fire_is_after_it() -> None:
    inside = local(NEW_YORK, 2024, 11, 3, 1, 10, fold=1)  # 01:10 EST, the second pass
    assert next_fire("cron(20 * * * ? *)", inside, NEW_YORK) == local(NEW_YORK, 2024, 11, 3, 2, 20)


def test_fall_back_in_london() -> None:
    # 2024-10-27 02:00 BST -> 01:00 GMT.
    assert fires("cron(30 1 * * ? *)", local(LONDON, 2024, 10, 26, 12), 2, LONDON) == [
        utc(2024, 10, 27, 0, 30),  # 01:30 BST
        utc(2024, 10, 28, 1, 30),  # 01:30 GMT
    ]


def test_a_rate_is_elapsed_time_across_a_change() -> None:
    start = local(NEW_YORK, 2024, 3, 9, 9)  # 14:00 UTC; clocks spring forward the next night
    got = fires("rate(1 day)", start - timedelta(seconds=1), 3, NEW_YORK, start=start)
    assert got == [utc(2024, 3, 9, 14), utc(2024, 3, 10, 14), utc(2024, 3, 11, 14)]
    assert [t.astimezone(ZoneInfo(NEW_YORK)).hour for t in got] == [9, 10, 10]


def test_at_in_the_gap_runs_with_the_offset_before_it() -> None:
    at = "at(2024-03-10T02:30:00)"
    assert next_fire(at, utc(2024, 1, 1), NEW_YORK) == local(NEW_YORK, 2024, 3, 10, 3, 30)


def test_at_in_the_overlap_runs_at_the_first_occurrence() -> None:
    at = "at(2024-11-03T01:30:00)"
    assert next_fire(at, utc(2024, 1, 1), NEW_YORK) == utc(2024, 11, 3, 5, 30)
    assert next_fire(at, utc(2024, 11, 3, 5, 30), NEW_YORK) is None  # once


def test_the_same_cron_in_another_zone() -> None:
    assert next_fire("cron(0 9 * * ? *)", MONDAY, "Asia/Kathmandu") == utc(2024, 1, 1, 3, 15)


# -- anchors, StartDate and EndDate ----------------------------------------------------------


def test_a_rules_rate_counts_from_its_creation_minute() -> None:
    created = utc(2024, 1, 1, 10, 2, 37)
    rate = parse_rule_expression("rate(5 minutes)")
    assert rule_anchor(created) == utc(2024, 1, 1, 10, 2)
    assert first_rule_fire(rate, created) == utc(2024, 1, 1, 10, 7)
    assert next_rule_fire(rate, utc(2024, 1, 1, 10, 7), created) == utc(2024, 1, 1, 10, 12)
    # After downtime the phase holds; the missed ticks are not replayed.
    assert next_rule_fire(rate, utc(2024, 1, 1, 13, 0, 30), created) == utc(2024, 1, 1, 13, 2)


def test_a_cron_rule_fires_on_its_minutes_whatever_its_creation() -> None:
    cron = parse_rule_expression("cron(0 12 * * ? *)")
    assert first_rule_fire(cron, utc(2024, 1, 1, 12, 0, 1)) == utc(2024, 1, 2, 12)


def test_a_scheduler_rate_without_start_fires_at_once() -> None:
    created = utc(2024, 1, 1, 10, 2, 37)
    rate = parse_schedule_expression("rate(5 minutes)")
    assert first_schedule_fire(rate, created) == created
    assert next_fire(rate, created, start=created) == utc(2024, 1, 1, 10, 7, 37)


def test_a_scheduler_rate_starts_at_its_start_date() -> None:
    rate = parse_schedule_expression("rate(2 hours)")
    start = utc(2024, 1, 2, 6)
    assert first_schedule_fire(rate, utc(2024, 1, 1), start=start) == start
    assert fires("rate(2 hours)", utc(2024, 1, 1), 2, start=start) == [start, utc(2024, 1, 2, 8)]


def test_a_past_start_date_keeps_its_phase_without_replaying() -> None:
    rate = parse_schedule_expression("rate(10 minutes)")
    got = first_schedule_fire(rate, utc(2024, 1, 1, 10, 3), start=utc(2024, 1, 1, 10))
    assert got == utc(2024, 1, 1, 10, 10)


def test_start_and_end_bound_a_cron() -> None:
    got = fires("cron(0 10 * * ? *)", MONDAY, 5, start=utc(2024, 1, 3, 10), end=utc(2024, 1, 5, 10))
    assert got == [utc(2024, 1, 3, 10), utc(2024, 1, 4, 10)]  # EndDate itself is out


def test_a_cron_is_read_in_its_zone_from_the_first_scheduled_fire() -> None:
    cron = parse_schedule_expression("cron(0 9 * * ? *)")
    assert first_schedule_fire(cron, utc(2024, 7, 1), LONDON) == utc(2024, 7, 1, 8)
    assert first_schedule_fire(cron, utc(2024, 7, 1, 8), LONDON) == utc(2024, 7, 1, 8)


def test_at_ignores_start_and_end_and_fires_once() -> None:
    at = parse_schedule_expression("at(2024-06-01T12:00:00)")
    bounds = {"start": utc(2025, 1, 1), "end": utc(2024, 1, 1)}
    assert next_fire(at, utc(2024, 1, 1), "UTC", **bounds) == utc(2024, 6, 1, 12)
    assert next_fire(at, utc(2024, 6, 1, 12), "UTC", **bounds) is None
    # Created after it came due: the timer service decides what an overdue one does.
    assert first_schedule_fire(at, utc(2024, 7, 1)) == utc(2024, 6, 1, 12)


def test_start_date_may_be_at_most_five_minutes_ago() -> None:
    now = utc(2024, 1, 1, 12)
    cron = parse_schedule_expression("cron(0 9 * * ? *)")
    validate_window(cron, start=now - timedelta(minutes=5), end=None, now=now)
    with pytest.raises(InvalidScheduleError, match=START_TOO_EARLY):
        validate_window(cron, start=now - timedelta(minutes=6), end=None, now=now)
    at = parse_schedule_expression("at(2020-01-01T00:00:00)")
    validate_window(at, start=utc(2000, 1, 1), end=utc(1999, 1, 1), now=now)


def test_end_date_must_follow_start_date() -> None:
    now = utc(2024, 1, 1, 12)
    rate = parse_schedule_expression("rate(1 hour)")
    with pytest.raises(InvalidScheduleError, match="EndDate"):
        validate_window(rate, start=utc(2024, 2, 1), end=utc(2024, 2, 1), now=now)


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "", "America", "../etc/passwd", "/etc/passwd"]
)
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(InvalidScheduleError, match="Timezone"):
        load_timezone(name)
    with pytest.raises(InvalidScheduleError):
        next_fire("rate(1 minute)", MONDAY, name)


# -- properties ------------------------------------------------------------------------------
#
# The oracle reads the guide: day-of-week 1 is Sunday; L is the last day; nW the
# Monday-Friday nearest day n within the month; LW the last Monday-Friday; nL the last
# weekday n; n#k the k-th weekday n.


def aws_day(day: datetime) -> int:
    return day.isoweekday() % 7 + 1


def month_length(day: datetime) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def oracle_day_of_month(token: str, day: datetime) -> bool:
    last = month_length(day)
    weekdays = [d for d in range(1, last + 1) if day.replace(day=d).weekday() < 5]
    if token == "L":
        return day.day == last
    if token == "LW":
        return day.day == max(weekdays)
    if token.endswith("W"):
        n = int(token[:-1])
        return n <= last and day.day == min(weekdays, key=lambda d: abs(d - n))
    return day.day in {int(v) for v in token.split(",")}


def oracle_day_of_week(token: str, day: datetime) -> bool:
    if token.endswith("L"):
        return aws_day(day) == int(token[:-1]) and day.day + 7 > month_length(day)
    if "#" in token:
        n, k = token.split("#")
        return aws_day(day) == int(n) and (day.day - 1) // 7 + 1 == int(k)
    return aws_day(day) in {int(v) for v in token.split(",")}


def listed(values: set[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


@st.composite
def crons(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    minutes = draw(st.sets(st.integers(0, 59), min_size=1, max_size=6))
    hours = draw(st.sets(st.integers(0, 23), min_size=1, max_size=24))
    months = draw(st.sets(st.integers(1, 12), min_size=1, max_size=12))
    by_month_day = draw(st.booleans())
    if by_month_day:
        dom = draw(
            st.one_of(
                st.sets(st.integers(1, 31), min_size=1, max_size=8).map(listed),
                st.sampled_from(["L", "LW"]),
                st.integers(1, 31).map(lambda n: f"{n}W"),
            )
        )
        dow = "?"
    else:
        dom = "?"
        dow = draw(
            st.one_of(
                st.sets(st.integers(1, 7), min_size=1, max_size=7).map(listed),
                st.integers(1, 7).map(lambda n: f"{n}L"),
                st.tuples(st.integers(1, 7), st.integers(1, 5)).map(lambda p: f"{p[0]}#{p[1]}"),
            )
        )
    text = f"cron({listed(minutes)} {listed(hours)} {dom} {listed(months)} {dow} *)"
    return text, {"minutes": minutes, "hours": hours, "months": months, "dom": dom, "dow": dow}


def oracle(spec: dict[str, object], wall: datetime) -> bool:
    day_ok = (
        oracle_day_of_month(str(spec["dom"]), wall)
        if spec["dom"] != "?"
        else oracle_day_of_week(str(spec["dow"]), wall)
    )
    return (
        day_ok
        and wall.minute in spec["minutes"]  # type: ignore[operator]
        and wall.hour in spec["hours"]  # type: ignore[operator]
        and wall.month in spec["months"]  # type: ignore[operator]
    )


ZONES = ["UTC", NEW_YORK, LONDON, "Australia/Lord_Howe", "Asia/Kathmandu"]
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2150, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=150)
@given(crons(), moments, st.sampled_from(ZONES))
def test_iterated_fires_increase_and_match_every_field(
    cron: tuple[str, dict[str, object]], after: datetime, tz: str
) -> None:
    text, spec = cron
    zone = ZoneInfo(tz)
    previous = after
    for fire in fires(text, after, 12, tz):
        assert fire > previous
        assert fire.tzinfo is UTC
        assert (fire.second, fire.microsecond) == (0, 0)
        wall = fire.astimezone(zone)
        assert oracle(spec, wall), (text, tz, wall)
        assert wall.fold == 0  # a repeated wall time fires at its first occurrence only
        previous = fire


# Days that hold a daylight-saving change in New York, London or Lord Howe (30 minutes).
CHANGES = [
    utc(2024, 3, 10), utc(2024, 11, 3), utc(2024, 3, 31), utc(2024, 10, 27),
    utc(2024, 4, 6), utc(2024, 10, 5), utc(2025, 3, 9), utc(2025, 11, 2),
]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    crons(),
    st.sampled_from(CHANGES),
    st.integers(-12, 12),
    st.sampled_from(ZONES),
)
def test_no_minute_is_missed_and_none_is_repeated(
    cron: tuple[str, dict[str, object]], day: datetime, shift: int, tz: str
) -> None:
    """Over a day around a change, the fires are exactly the instants whose wall time
    matches, counting a repeated wall time once: checked minute by minute."""
    text, spec = cron
    zone = ZoneInfo(tz)
    begin = day + timedelta(hours=shift)
    expected = []
    for m in range(1, 36 * 60):
        instant = begin + timedelta(minutes=m)
        wall = instant.astimezone(zone)
        if wall.fold == 0 and oracle(spec, wall):
            expected.append(instant)
    got = [t for t in fires(text, begin, len(expected) + 1, tz) if t < begin + timedelta(hours=36)]
    assert got == expected


@settings(max_examples=100)
@given(
    st.integers(1, 500),
    st.sampled_from(["minutes", "hours", "days"]),
    moments,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    st.sampled_from(ZONES),
)
def test_a_rate_fires_on_its_anchor_grid(
    value: int, unit: str, anchor: datetime, later: timedelta, zone: str
) -> None:
    """Elapsed time from the anchor, whatever zone the anchor was given in."""
    anchor = anchor.astimezone(ZoneInfo(zone))
    text = f"rate({value} {unit[:-1] if value == 1 else unit})"
    rate = parse_schedule_expression(text)
    assert isinstance(rate, Rate)
    period = timedelta(seconds=rate.seconds)
    after = anchor + later
    got = fires(text, after, 3, start=anchor)
    assert got[0] > after >= got[0] - period
    for fire in got:
        assert (fire - anchor) % period == timedelta(0)
    assert got[1] - got[0] == got[2] - got[1] == period
