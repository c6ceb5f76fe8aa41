"""The retry policy of stream batches: bisect, retries, record age, partial failures."""

from __future__ import annotations

from collections.abc import Callable

from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.retry import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    Batch,
    Bisect,
    Discard,
    Done,
    Retry,
    RetryPolicy,
    after_invoke,
    expired,
)
from lambdad.events.streams.verdicts import Outcome, Verdict

Rec = Callable[..., StreamRecord]
FAILED = Verdict(Outcome.FUNCTION_ERROR)


def seqs(batch: Batch) -> list[int]:
    return [r.seq for r in batch.records]


def batch_of(rec: Rec, *numbers: int) -> Batch:
    return Batch(tuple(rec(n) for n in numbers))


def test_success_is_done(rec: Rec) -> None:
    assert after_invoke(batch_of(rec, 1, 2), Verdict(Outcome.SUCCESS), RetryPolicy()) == Done()


def test_infinite_retries_keep_retrying(rec: Rec) -> None:
    batch = batch_of(rec, 1)
    for _ in range(50):
        action = after_invoke(batch, FAILED, RetryPolicy())
        assert isinstance(action, Retry)
        batch = action.batch
    assert batch.retries == 50
    assert batch.invokes == 50


def test_retries_exhausted_discard_the_batch(rec: Rec) -> None:
    policy = RetryPolicy(maximum_retry_attempts=2)
    batch = batch_of(rec, 1, 2)
    kinds = []
    while True:
        action = after_invoke(batch, FAILED, policy)
        kinds.append(type(action).__name__)
        if not isinstance(action, Retry):
            break
        batch = action.batch
    assert kinds == ["Retry", "Retry", "Discard"]
    assert isinstance(action, Discard)
    assert action.condition == RETRY_ATTEMPTS_EXHAUSTED
    assert action.batch.invokes == 3  # approximateInvokeCount
    assert seqs(action.batch) == [1, 2]


def test_zero_retries_discards_after_the_first_failure(rec: Rec) -> None:
    action = after_invoke(batch_of(rec, 1), FAILED, RetryPolicy(maximum_retry_attempts=0))
    assert isinstance(action, Discard)
    assert action.batch.invokes == 1


def test_bisect_halves_without_spending_retries(rec: Rec) -> None:
    policy = RetryPolicy(maximum_retry_attempts=0, bisect=True)
    action = after_invoke(batch_of(rec, 1, 2, 3, 4, 5), FAILED, policy)
    assert isinstance(action, Bisect)
    assert (seqs(action.first), seqs(action.second)) == ([1, 2], [3, 4, 5])
    assert action.first.retries == 0
    # Down to one record, the retries count again.
    single = after_invoke(batch_of(rec, 3), FAILED, policy)
    assert isinstance(single, Discard)


def test_partial_failure_checkpoints_before_the_failed_record(rec: Rec) -> None:
    policy = RetryPolicy(maximum_retry_attempts=5, bisect=True)
    action = after_invoke(batch_of(rec, 1, 2, 3, 4), Verdict(Outcome.PARTIAL, failed_at=2), policy)
    assert isinstance(action, Retry)
    assert action.done == 2
    assert seqs(action.batch) == [3, 4]
    assert action.batch.retries == 1


def test_partial_failure_at_the_same_record_spends_retries(rec: Rec) -> None:
    policy = RetryPolicy(maximum_retry_attempts=1)
    first = after_invoke(batch_of(rec, 3, 4), Verdict(Outcome.PARTIAL, failed_at=0), policy)
    assert isinstance(first, Retry)
    second = after_invoke(first.batch, Verdict(Outcome.PARTIAL, failed_at=0), policy)
    assert isinstance(second, Discard)
    assert second.condition == RETRY_ATTEMPTS_EXHAUSTED
    assert seqs(second.batch) == [3, 4]


def test_throttles_spend_nothing_and_back_off(rec: Rec) -> None:
    policy = RetryPolicy(maximum_retry_attempts=0, retry_base=1.0, retry_cap=4.0)
    batch = batch_of(rec, 1)
    delays = []
    for _ in range(4):
        action = after_invoke(batch, Verdict(Outcome.THROTTLED), policy)
        assert isinstance(action, Retry)
        delays.append(action.delay)
        batch = action.batch
    assert delays == [1.0, 2.0, 4.0, 4.0]
    assert batch.invokes == 0
    assert batch.retries == 0


def test_old_records_are_discarded_before_the_invoke(rec: Rec) -> None:
    batch = Batch(tuple(rec(i, arrival=a) for i, a in enumerate([10.0, 20.0, 100.0])))
    gone, rest = expired(batch, RetryPolicy(maximum_record_age=60), now=90.0)
    assert gone is not None
    assert gone.condition == RECORD_AGE_EXCEEDED
    assert seqs(gone.batch) == [0, 1]
    assert rest is not None
    assert seqs(rest) == [2]
    assert expired(batch, RetryPolicy(), now=1e9) == (None, batch)
    gone, rest = expired(batch, RetryPolicy(maximum_record_age=60), now=1000.0)
    assert rest is None
