"""The retry policy of asynchronous invocation, driven by a fake clock."""

from __future__ import annotations

import pytest

from lambdad.clock import FakeClock
from lambdad.invoke.async_policy import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    Deliver,
    Drop,
    EventProgress,
    Outcome,
    Requeue,
    Retry,
    RetryConfig,
    before_attempt,
    compute_backoff,
    next_action,
)

AWS = RetryConfig()  # 2 retries, 6 hours, 60 s then 120 s, throttles 1 s .. 300 s


def now(clock: FakeClock) -> float:
    return clock.now().timestamp()


# -- compute_backoff ---------------------------------------------------------------------


def test_backoff_doubles_from_base() -> None:
    assert [compute_backoff(a, base=1, cap=300) for a in range(5)] == [1, 2, 4, 8, 16]


def test_backoff_is_capped() -> None:
    assert compute_backoff(8, base=1, cap=300) == 256
    assert compute_backoff(9, base=1, cap=300) == 300
    assert compute_backoff(10_000, base=1, cap=300) == 300


def test_backoff_accepts_fractional_seconds() -> None:
    assert compute_backoff(2, base=0.05, cap=0.15) == pytest.approx(0.15)
    assert compute_backoff(1, base=0.05, cap=0.15) == pytest.approx(0.1)


def test_backoff_rejects_negative_attempts() -> None:
    with pytest.raises(ValueError, match="attempt"):
        compute_backoff(-1, base=1, cap=2)


# -- next_action ---------------------------------------------------------------------------


def test_success_goes_to_on_success() -> None:
    clock = FakeClock()
    p = EventProgress(now(clock), attempts=1)
    assert next_action(p, Outcome.SUCCESS, AWS, now(clock)) == Deliver(SUCCESS)


def test_function_errors_are_retried_after_one_then_two_minutes() -> None:
    clock = FakeClock()
    t0 = now(clock)
    assert next_action(EventProgress(t0, 1), Outcome.FUNCTION_ERROR, AWS, t0) == Retry(60)
    clock.advance(60)
    assert next_action(EventProgress(t0, 2), Outcome.FUNCTION_ERROR, AWS, now(clock)) == Retry(120)
    clock.advance(120)
    assert next_action(EventProgress(t0, 3), Outcome.FUNCTION_ERROR, AWS, now(clock)) == Deliver(
        RETRIES_EXHAUSTED
    )


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_maximum_retry_attempts_bounds_the_attempts(retries: int) -> None:
    config = RetryConfig(maximum_retry_attempts=retries, retry_delays=(1.0,))
    clock = FakeClock()
    t0 = now(clock)
    attempts = 0
    while True:
        attempts += 1
        progress = EventProgress(t0, attempts)
        action = next_action(progress, Outcome.FUNCTION_ERROR, config, now(clock))
        if not isinstance(action, Retry):
            break
        clock.advance(action.delay)
    assert action == Deliver(RETRIES_EXHAUSTED)
    assert attempts == retries + 1


def test_last_delay_repeats_when_the_list_is_short() -> None:
    config = RetryConfig(maximum_retry_attempts=2, retry_delays=(5.0,))
    assert next_action(EventProgress(0, 2), Outcome.FUNCTION_ERROR, config, 0) == Retry(5.0)


def test_a_retry_after_the_age_limit_is_event_age_exceeded() -> None:
    config = RetryConfig(maximum_event_age=90)
    clock = FakeClock()
    t0 = now(clock)
    assert next_action(EventProgress(t0, 1), Outcome.FUNCTION_ERROR, config, t0) == Retry(60)
    clock.advance(60)
    # The second retry would come 120 s later, past the 90 s limit.
    assert next_action(EventProgress(t0, 2), Outcome.FUNCTION_ERROR, config, now(clock)) == Deliver(
        EVENT_AGE_EXCEEDED
    )


@pytest.mark.parametrize("outcome", [Outcome.THROTTLED, Outcome.PLATFORM_ERROR])
def test_throttles_requeue_with_backoff_without_spending_attempts(outcome: Outcome) -> None:
    clock = FakeClock()
    t0 = now(clock)
    delays = []
    for requeues in range(12):
        action = next_action(EventProgress(t0, 0, requeues), outcome, AWS, now(clock))
        assert isinstance(action, Requeue)
        delays.append(action.delay)
        clock.advance(action.delay)
    assert delays[:5] == [1, 2, 4, 8, 16]
    assert delays[-1] == 300


def test_throttled_events_wait_until_their_age_limit_then_expire() -> None:
    config = RetryConfig(maximum_event_age=60, throttle_base=1, throttle_cap=300)
    clock = FakeClock()
    t0 = now(clock)
    waited = 0.0
    requeues = 0
    while True:
        p = EventProgress(t0, 0, requeues)
        expired = before_attempt(p, config, now(clock))
        if expired is not None:
            break
        action = next_action(p, Outcome.THROTTLED, config, now(clock))
        assert isinstance(action, Requeue)
        clock.advance(action.delay)
        waited += action.delay
        requeues += 1
    assert expired == Deliver(EVENT_AGE_EXCEEDED)
    assert waited == pytest.approx(60)


def test_a_throttle_after_the_limit_delivers_at_once() -> None:
    config = RetryConfig(maximum_event_age=60)
    p = EventProgress(0, 0, 3)
    assert next_action(p, Outcome.THROTTLED, config, 61) == Deliver(EVENT_AGE_EXCEEDED)


def test_a_retry_after_throttles_counts_attempts_not_requeues() -> None:
    # Throttled twice, then one function error: one attempt spent, first retry delay.
    p = EventProgress(0, attempts=1, requeues=2)
    assert next_action(p, Outcome.FUNCTION_ERROR, AWS, 10) == Retry(60)


def test_a_deleted_function_drops_the_event() -> None:
    assert isinstance(next_action(EventProgress(0, 0), Outcome.GONE, AWS, 1), Drop)


# -- before_attempt ------------------------------------------------------------------------


def test_fresh_events_run() -> None:
    clock = FakeClock()
    p = EventProgress(now(clock))
    clock.advance(21599)
    assert before_attempt(p, AWS, now(clock)) is None


def test_events_older_than_their_limit_do_not_run() -> None:
    clock = FakeClock()
    p = EventProgress(now(clock))
    clock.advance(21600)
    assert before_attempt(p, AWS, now(clock)) == Deliver(EVENT_AGE_EXCEEDED)
