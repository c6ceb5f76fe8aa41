"""What happens to an asynchronous event after each attempt: the retry policy.

Pure functions over frozen dataclasses; time comes in as an argument (epoch
seconds), so the whole policy is unit-tested with a fake clock. The rules are
AWS's:

- a function error (including a timeout or a crash of the runtime) spends an
  attempt; the event is retried after the configured delays (about 1 minute, then
  about 2) until ``MaximumRetryAttempts`` retries were made;
- a throttle or a platform error spends nothing: the event is requeued with
  exponential backoff between the configured minimum and maximum;
- an event past its age limit (``MaximumEventAgeInSeconds`` from its arrival), or
  whose retry would come after it, goes to the failure targets as
  ``EventAgeExceeded``; one that ran out of retries as ``RetriesExhausted``; a
  success to the success destination.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE = 21600


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """The limits that apply to one event (its function's event invoke config)."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age: float = DEFAULT_MAXIMUM_EVENT_AGE  # seconds
    retry_delays: tuple[float, ...] = (60.0, 120.0)
    throttle_base: float = 1.0
    throttle_cap: float = 300.0


@dataclass(frozen=True, slots=True)
class EventProgress:
    """Where an event stands: when it arrived and what was tried so far."""

    received_at: float
    attempts: int = 0  # attempts that reached the function
    requeues: int = 0  # throttled or failed-by-the-platform attempts since the last one

    def deadline(self, config: RetryConfig) -> float:
        return self.received_at + config.maximum_event_age


class Outcome(enum.Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"  # the handler failed, timed out or crashed
    THROTTLED = "throttled"  # no concurrency available
    PLATFORM_ERROR = "platform-error"  # lambdad could not run it (5xx)
    GONE = "gone"  # the function or its qualifier no longer exists


@dataclass(frozen=True, slots=True)
class Retry:
    """Run again after ``delay`` seconds; the attempt just made counts."""

    delay: float


@dataclass(frozen=True, slots=True)
class Requeue:
    """Run again after ``delay`` seconds; the attempt just made does not count."""

    delay: float


@dataclass(frozen=True, slots=True)
class Deliver:
    """The event is done: send it to the targets for ``condition``."""

    condition: str


@dataclass(frozen=True, slots=True)
class Drop:
    """The event is done and nothing can receive it."""

    reason: str


Action = Retry | Requeue | Deliver | Drop


def compute_backoff(attempt: int, *, base: float, cap: float) -> float:
    """``base * 2**attempt`` seconds, never more than ``cap`` (attempt counts from 0)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return float(min(cap, base * 2 ** min(attempt, 64)))


def before_attempt(progress: EventProgress, config: RetryConfig, now: float) -> Deliver | None:
    """An event taken from the queue: too old to run (Deliver) or fine (None)."""
    if now >= progress.deadline(config):
        return Deliver(EVENT_AGE_EXCEEDED)
    return None


def next_action(
    progress: EventProgress, outcome: Outcome, config: RetryConfig, now: float
) -> Action:
    """What to do after an attempt ended with ``outcome``.

    ``progress.attempts`` already counts the attempt just made when it reached the
    function (success or function error).
    """
    if outcome is Outcome.SUCCESS:
        return Deliver(SUCCESS)
    if outcome is Outcome.GONE:
        return Drop("the function or its qualifier no longer exists")
    if outcome is Outcome.FUNCTION_ERROR:
        retries_made = max(progress.attempts - 1, 0)
        if retries_made >= config.maximum_retry_attempts:
            return Deliver(RETRIES_EXHAUSTED)
        delays = config.retry_delays or (0.0,)
        delay = delays[min(retries_made, len(delays) - 1)]
        if now + delay >= progress.deadline(config):
            return Deliver(EVENT_AGE_EXCEEDED)
        return Retry(delay)
    delay = compute_backoff(progress.requeues, base=config.throttle_base, cap=config.throttle_cap)
    left = progress.deadline(config) - now
    if left <= 0:
        return Deliver(EVENT_AGE_EXCEEDED)
    # Throttled events wait for capacity up to their age limit, where the next
    # ``before_attempt`` gives up on them.
    return Requeue(min(delay, left))
