"""Scheduler's pure firing decisions: first and next ticks on scaled time, flexible
windows, overdue ticks, the payload with context attributes, the request checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdad.errors import ValidationException
from lambdad.events.scheduler.plan import (
    Overdue,
    Timing,
    first_tick,
    flexible_delay,
    next_tick,
    overdue,
    render_input,
    retry_limits,
    scheduled_time,
)
from lambdad.events.scheduler.schedules import check_schedule
from lambdad.events.schedules import InvalidScheduleError

T0 = datetime(2026, 3, 7, 12, 0, 30, tzinfo=UTC).timestamp()
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def timing(expression: str, **doc: object) -> Timing:
    return Timing.of({"ScheduleExpression": expression, **doc})


def test_a_rate_without_start_fires_at_once_then_every_interval() -> None:
    minute = timing("rate(1 minute)")
    assert first_tick(minute, T0) == T0
    assert next_tick(minute, T0, T0 + 1e-6) == T0 + 60
    assert next_tick(minute, T0, T0 + 61) == T0 + 120


def test_scale_shrinks_schedule_time_from_the_anchor() -> None:
    minute = timing("rate(1 minute)")
    fire = next_tick(minute, T0, T0 + 1e-6, 0.01)
    assert fire == pytest.approx(T0 + 0.6)


def test_a_rate_with_a_start_date_keeps_its_phase() -> None:
    start = T0 + 3600
    hourly = timing("rate(1 hour)", StartDate=start)
    assert first_tick(hourly, T0) == start
    assert next_tick(hourly, T0, start + 10) == start + 3600


def test_end_date_stops_a_schedule() -> None:
    minute = timing("rate(1 minute)", EndDate=T0 + 90)
    assert next_tick(minute, T0, T0 + 1) == T0 + 60
    assert next_tick(minute, T0, T0 + 61) is None


def test_cron_in_a_zone_across_spring_forward() -> None:
    # 02:30 does not exist in New York on 2026-03-08: that day is skipped.
    daily = timing("cron(30 2 * * ? *)", ScheduleExpressionTimezone="America/New_York")
    first = first_tick(daily, T0)
    assert first is not None
    # 07:00 EST on the 7th: its 02:30 has passed, the 8th has none, the 9th is EDT.
    assert datetime.fromtimestamp(first, UTC) == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    following = next_tick(daily, T0, first + 1)
    assert following is not None
    assert datetime.fromtimestamp(following, UTC) == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)


def test_a_one_time_schedule_fires_once_at_its_wall_clock_time() -> None:
    once = timing("at(2026-03-08T09:00:00)", ScheduleExpressionTimezone="Asia/Tokyo")
    assert first_tick(once, T0) == datetime(2026, 3, 8, 0, 0, tzinfo=UTC).timestamp()
    assert next_tick(once, T0, T0 + 10**6) is None
    # Passed already: its own instant, not a scaled one.
    past = timing("at(2026-03-01T00:00:00)")
    assert first_tick(past, T0, 0.01) == datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def test_flexible_window() -> None:
    flexible = timing(
        "rate(1 hour)", FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10}
    )
    assert flexible.window_minutes == 10
    assert flexible_delay(10, 0.5) == 300
    assert flexible_delay(10, 0.5, 0.01) == pytest.approx(3)
    assert timing("rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"}).window_minutes == 0
    assert flexible_delay(0, 0.9) == 0


def test_overdue_ticks() -> None:
    started = T0
    assert overdue(T0 + 5, T0 + 5, started, one_time=False, max_age=60) is Overdue.FIRE
    assert overdue(T0 - 5, T0, started, one_time=False, max_age=60) is Overdue.SKIP
    assert overdue(T0 - 50, T0, started, one_time=True, max_age=60) is Overdue.FIRE
    assert overdue(T0 - 61, T0, started, one_time=True, max_age=60) is Overdue.EXPIRED


def test_input_with_context_attributes() -> None:
    text = (
        '{"arn":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>",'
        '"id":"<aws.scheduler.execution-id>","n":"<aws.scheduler.attempt-number>"}'
    )
    out = render_input(text, schedule_arn="arn:s", tick=T0, execution_id="abc", attempt=1)
    assert out == b'{"arn":"arn:s","at":"2026-03-07T12:00:30Z","id":"abc","n":"1"}'
    assert render_input(None, schedule_arn="a", tick=T0, execution_id="e", attempt=1) == b"{}"
    assert scheduled_time(T0) == "2026-03-07T12:00:30Z"


def test_retry_limits_default_to_schedulers() -> None:
    assert retry_limits({}) == (185, 86400)
    assert retry_limits({"RetryPolicy": {"MaximumRetryAttempts": 0}}) == (0, 86400)


def request(**over: object) -> dict[str, object]:
    p: dict[str, object] = {
        "Name": "s",
        "ScheduleExpression": "rate(1 hour)",
        "Target": {"Arn": FN, "RoleArn": "arn:aws:iam::123456789012:role/r"},
        "FlexibleTimeWindow": {"Mode": "OFF"},
    }
    p.update(over)
    return p


def test_check_schedule_refusals() -> None:
    check_schedule(request(), T0)
    with pytest.raises(InvalidScheduleError, match="Invalid Schedule Expression rate"):
        check_schedule(request(ScheduleExpression="rate(1 minutes)"), T0)
    with pytest.raises(InvalidScheduleError, match="Timezone Nowhere/Else"):
        check_schedule(request(ScheduleExpressionTimezone="Nowhere/Else"), T0)
    with pytest.raises(InvalidScheduleError, match="cannot be earlier than 5 minutes ago"):
        check_schedule(request(StartDate=T0 - 600), T0)
    with pytest.raises(InvalidScheduleError, match="EndDate"):
        check_schedule(request(StartDate=T0 + 600, EndDate=T0 + 60), T0)
    with pytest.raises(ValidationException, match="MaximumWindowInMinutes"):
        check_schedule(request(FlexibleTimeWindow={"Mode": "FLEXIBLE"}), T0)
    for bad in ("yesterday", True, 1e300, [1]):
        with pytest.raises(ValidationException, match="Invalid StartDate"):
            check_schedule(request(StartDate=bad), T0)
    with pytest.raises(ValidationException, match="Lambda functions only"):
        check_schedule(
            request(Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": "r"}), T0
        )
