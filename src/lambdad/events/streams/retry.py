"""What follows an invoke of a stream batch: the retry policy of Kinesis and DynamoDB
Streams mappings, as pure functions over frozen values (time passed in).

- Success: the batch is done; the shard's checkpoint moves past it.
- Partial success (``ReportBatchItemFailures``): the records before the first failed
  one are done; the rest is retried from there (it counts as a retry).
- Function error: with ``BisectBatchOnFunctionError`` a batch of several records is
  split in two halves, processed in order (a split spends no retry); otherwise the
  batch is retried until ``MaximumRetryAttempts`` retries were made (-1: until the
  records expire), then discarded as ``RetryAttemptsExhausted``.
- Throttles and platform errors never reached the function: retried with backoff,
  spending nothing.
- Before each invoke, records older than ``MaximumRecordAgeInSeconds`` (-1: no limit)
  are discarded as ``RecordAgeExceeded``.
Discarded records go to the on-failure destination, and the shard moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.verdicts import Outcome, Verdict
from lambdad.invoke.async_policy import compute_backoff

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"
INFINITE = -1


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    maximum_retry_attempts: int = INFINITE
    maximum_record_age: float = INFINITE  # seconds
    bisect: bool = False
    retry_base: float = 0.1  # backoff between retries, seconds
    retry_cap: float = 30.0


@dataclass(frozen=True, slots=True)
class Batch:
    records: tuple[StreamRecord, ...]
    retries: int = 0  # retries made after function errors
    invokes: int = 0  # invokes that reached the function (approximateInvokeCount)
    requeues: int = 0  # throttled or failed-by-lambdad attempts in a row


@dataclass(frozen=True, slots=True)
class Done:
    """Every record of the batch is processed."""


@dataclass(frozen=True, slots=True)
class Retry:
    """The first ``done`` records are processed; run ``batch`` after ``delay`` seconds."""

    batch: Batch
    done: int = 0
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Bisect:
    """Run the two halves, first then second."""

    first: Batch
    second: Batch


@dataclass(frozen=True, slots=True)
class Discard:
    """The first ``done`` records are processed; ``batch``'s records go to the
    on-failure destination for ``condition``."""

    batch: Batch
    condition: str
    done: int = 0


Action = Done | Retry | Bisect | Discard


def expired(batch: Batch, policy: RetryPolicy, now: float) -> tuple[Discard | None, Batch | None]:
    """Split off the records too old to invoke: (their discard, the batch left)."""
    if policy.maximum_record_age == INFINITE:
        return None, batch
    limit = now - policy.maximum_record_age
    old = 0
    while old < len(batch.records) and batch.records[old].arrival < limit:
        old += 1
    if not old:
        return None, batch
    gone = Discard(replace(batch, records=batch.records[:old]), RECORD_AGE_EXCEEDED)
    rest = batch.records[old:]
    return gone, (replace(batch, records=rest) if rest else None)


def _delay(policy: RetryPolicy, attempt: int) -> float:
    return compute_backoff(attempt, base=policy.retry_base, cap=policy.retry_cap)


def after_invoke(batch: Batch, verdict: Verdict, policy: RetryPolicy) -> Action:
    """What to do once an invoke of ``batch`` ended with ``verdict``."""
    outcome = verdict.outcome
    if outcome is Outcome.SUCCESS:
        return Done()
    if outcome in (Outcome.THROTTLED, Outcome.PLATFORM_ERROR):
        delay = _delay(policy, batch.requeues)
        return Retry(replace(batch, requeues=batch.requeues + 1), delay=delay)
    invoked = replace(batch, invokes=batch.invokes + 1, requeues=0)
    done = verdict.failed_at if outcome is Outcome.PARTIAL else 0
    if outcome is Outcome.FUNCTION_ERROR and policy.bisect and len(batch.records) > 1:
        half = len(batch.records) // 2
        return Bisect(
            replace(invoked, records=batch.records[:half], retries=0),
            replace(invoked, records=batch.records[half:], retries=0),
        )
    # Progress (a partial success past the first record) starts the count again.
    rest = replace(
        invoked, records=batch.records[done:], retries=invoked.retries if not done else 0
    )
    limit = policy.maximum_retry_attempts
    if limit != INFINITE and rest.retries >= limit:
        return Discard(rest, RETRY_ATTEMPTS_EXHAUSTED, done=done)
    return Retry(
        replace(rest, retries=rest.retries + 1), done=done, delay=_delay(policy, rest.retries)
    )
