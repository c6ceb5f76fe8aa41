"""The async queue's contract (``store.queue``): claims, leases, restarts, counters.

Each behaviour is checked on both implementations, SQLite on a file in a temporary
directory and the in-memory one; group commit is the SQLite queue's alone.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambdad.store.queue import AsyncQueue, Delivery, NewEvent, QueuedEvent
from lambdad.store.queue_memory import MemoryAsyncQueue
from lambdad.store.queue_sqlite import SqliteAsyncQueue

KEY = ("123456789012", "us-east-1", "orders")
OTHER = ("123456789012", "us-east-1", "billing")


def event(n: int, at: float = 100.0, key: tuple[str, str, str] = KEY) -> NewEvent:
    return NewEvent(f"e{n}", key[0], key[1], key[2], None, b'{"n": %d}' % n, at)


# A queue as this node opens it after a restart: (owner) -> queue, same storage each time.
Reopen = Callable[[str], AsyncQueue]


@pytest.fixture(params=["sqlite", "memory"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopen]:
    memory = MemoryAsyncQueue("memory")
    opened: list[AsyncQueue] = []

    def open_as(owner: str) -> AsyncQueue:
        q: AsyncQueue
        if request.param == "memory":
            q = memory.worker(owner)
        else:
            q = SqliteAsyncQueue(tmp_path / "async.db", owner=owner)
        q.open()
        opened.append(q)
        return q

    yield open_as
    for q in opened:
        q.close()


@pytest.fixture
def queue(reopen: Reopen) -> AsyncQueue:
    return reopen("me")


@pytest.fixture
def sqlite_queue(tmp_path: Path) -> Iterator[SqliteAsyncQueue]:
    q = SqliteAsyncQueue(tmp_path / "async.db", owner="me")
    q.open()
    yield q
    q.close()


async def claim_ids(q: AsyncQueue, now: float, limit: int = 10, **kw: object) -> list[str]:
    c = await q.claim(now, limit, lease_for=30, **kw)  # type: ignore[arg-type]
    return [e.id for e in c.events]


def test_a_put_is_claimed_once(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put(event(1))
        assert await claim_ids(queue, 100) == ["e1"]
        assert await claim_ids(queue, 101) == []

    asyncio.run(scenario())


def test_put_many_queues_every_event_durably(reopen: Reopen) -> None:
    async def scenario() -> None:
        await reopen("me").put_many([event(1), event(2), event(3, key=OTHER)])
        assert await claim_ids(reopen("after-restart"), 100) == ["e1", "e2", "e3"]

    asyncio.run(scenario())


def test_put_many_queues_all_or_none(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put(event(2))
        with pytest.raises((ValueError, sqlite3.IntegrityError)):
            await queue.put_many([event(1), event(2), event(3)])
        assert await claim_ids(queue, 100) == ["e2"]

    asyncio.run(scenario())
    (stats,) = queue.statistics(100)
    assert stats.counters["received"] == 1


def test_events_are_claimed_oldest_first_and_not_before_they_are_due(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put(event(2, at=102))
        await queue.put(event(1, at=101))
        assert await claim_ids(queue, 100) == []
        assert await claim_ids(queue, 102) == ["e1", "e2"]

    asyncio.run(scenario())


def test_reschedule_keeps_progress_and_delays_the_event(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put(event(1))
        (claimed,) = (await queue.claim(100, 1, lease_for=30)).events
        response = {"statusCode": 200, "functionError": "Unhandled", "payload": "{}"}
        assert await queue.reschedule(
            claimed, 160, attempts=1, requeues=0, counter="retried",
            last_response=response, last_error=None,
        )  # fmt: skip
        claim = await queue.claim(159, 1, lease_for=30)
        assert claim.events == []
        assert claim.next_due == 160
        (again,) = (await queue.claim(160, 1, lease_for=30)).events
        assert (again.attempts, again.last_response) == (1, response)

    asyncio.run(scenario())


def test_finish_records_deliveries_and_follow_ups_atomically(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put(event(1))
        (claimed,) = (await queue.claim(100, 1, lease_for=30)).events
        delivery = Delivery(
            "arn:aws:sqs:us-east-1:123456789012:q", "dead-letter", "{}", "RetriesExhausted",
            "arn:fn", {"RequestID": "e1"},
        )  # fmt: skip
        follow_up = event(9, at=105, key=OTHER)
        assert await queue.finish(
            claimed, counter="dropped", deliveries=[delivery], follow_ups=[follow_up], now=105
        )
        assert await claim_ids(queue, 200) == ["e9"]
        pending, _ = await queue.claim_deliveries(105, 10, lease_for=30)
        assert [p.delivery for p in pending] == [delivery]
        assert await queue.claim_deliveries(106, 10, lease_for=30) == ([], None)
        await queue.delivery_failed(pending[0], 110)
        (retry,), _ = await queue.claim_deliveries(110, 10, lease_for=30)
        assert retry.attempts == 1
        await queue.delivered(retry)
        assert await queue.claim_deliveries(1000, 10, lease_for=30) == ([], None)

    asyncio.run(scenario())
    stats = {s.function_name: s for s in queue.statistics(200)}
    assert stats["orders"].counters == {"received": 1, "dropped": 1, "delivery_failures": 1}
    assert stats["billing"].counters == {"received": 1}
    assert stats["billing"].in_flight == 1


def test_a_lost_claim_is_not_finished_twice(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put(event(1))
        (claimed,) = (await queue.claim(100, 1, lease_for=30)).events
        assert await queue.finish(claimed, counter="processed")
        assert not await queue.finish(claimed, counter="processed")

    asyncio.run(scenario())
    (stats,) = queue.statistics(100)
    assert stats.counters["processed"] == 1


def test_claims_of_a_dead_process_are_released_on_open(reopen: Reopen) -> None:
    first = reopen("first")

    async def put_and_claim() -> list[QueuedEvent]:
        for n in range(3):
            await first.put(event(n))
        return (await first.claim(100, 2, lease_for=900)).events

    claimed = asyncio.run(put_and_claim())
    assert len(claimed) == 2
    first.close()  # as if killed: nothing was finished

    second = reopen("second")
    assert sorted(asyncio.run(claim_ids(second, 100))) == ["e0", "e1", "e2"]


def test_an_expired_lease_of_another_worker_is_taken_over(
    queue: SqliteAsyncQueue | MemoryAsyncQueue,
) -> None:
    a, b = queue, queue.worker("b")
    asyncio.run(a.put(event(1)))
    assert asyncio.run(claim_ids(a, 100)) == ["e1"]
    # b shares the queue while a lives (several workers): a's lease holds until it expires.
    assert asyncio.run(claim_ids(b, 129)) == []
    assert asyncio.run(claim_ids(b, 131)) == ["e1"]
    # ...but a worker never takes back its own claim: it knows what it runs.
    assert asyncio.run(claim_ids(b, 1000)) == []


def test_per_function_allowances(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        for n in range(4):
            await queue.put(event(n, at=100 + n))
        await queue.put(event(9, at=110, key=OTHER))
        got = await claim_ids(queue, 200, remaining={KEY: 1}, default_remaining=10)
        assert got == ["e0", "e9"]
        got = await claim_ids(queue, 200, remaining={KEY: 0}, default_remaining=10)
        assert got == []
        assert await claim_ids(queue, 200, limit=2) == ["e1", "e2"]

    asyncio.run(scenario())


def test_a_backlog_does_not_hold_back_another_functions_event(queue: AsyncQueue) -> None:
    async def scenario() -> None:
        await queue.put_many([event(n, at=100 + n / 1000) for n in range(300)])
        await queue.put(event(999, at=150, key=OTHER))
        # AWS queues per function: the first places alternate between the two queues.
        assert await claim_ids(queue, 200, limit=3) == ["e0", "e1", "e999"]
        # The backlog's function runs events already: the next place is the other's.
        await queue.put(event(998, at=160, key=OTHER))
        got = await claim_ids(queue, 200, limit=1, running={KEY: 2, OTHER: 0})
        assert got == ["e998"]

    asyncio.run(scenario())


def test_concurrent_puts_share_commits(sqlite_queue: SqliteAsyncQueue) -> None:
    queue = sqlite_queue

    async def scenario() -> None:
        await asyncio.gather(*(queue.put(event(n)) for n in range(300)))

    before = queue.commits
    asyncio.run(scenario())
    assert queue.commits - before < 300 / 4
    (stats,) = queue.statistics(100)
    assert (stats.counters["received"], stats.queued) == (300, 300)


def test_put_many_is_one_commit(sqlite_queue: SqliteAsyncQueue) -> None:
    before = sqlite_queue.commits
    asyncio.run(sqlite_queue.put_many([event(n) for n in range(10)]))
    assert sqlite_queue.commits - before == 1


def test_a_failing_operation_does_not_undo_its_batch(sqlite_queue: SqliteAsyncQueue) -> None:
    queue = sqlite_queue

    async def scenario() -> list[BaseException | None]:
        results = await asyncio.gather(
            queue.put(event(1)), queue.put(event(1)), queue.put(event(2)), return_exceptions=True
        )
        return list(results)

    results = asyncio.run(scenario())
    assert sum(isinstance(r, sqlite3.IntegrityError) for r in results) == 1
    (stats,) = queue.statistics(100)
    assert (stats.queued, stats.counters["received"]) == (2, 2)


def test_statistics_report_the_oldest_queued_event(queue: AsyncQueue) -> None:
    asyncio.run(queue.put(event(1, at=100)))
    asyncio.run(queue.put(event(2, at=150)))
    (stats,) = queue.statistics(160)
    assert stats.oldest_age == 60
    assert stats.as_dict()["queued"] == 2


def test_an_event_keeps_the_trace_of_the_request_that_queued_it(reopen: Reopen) -> None:
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"

    async def scenario() -> None:
        e = event(1)
        await reopen("me").put(NewEvent(e.id, *KEY, None, e.payload, 100.0, trace_id=header))
        await reopen("me").put(event(2))
        claimed = await reopen("after-restart").claim(100, 10, lease_for=30)
        assert {c.id: c.trace_id for c in claimed.events} == {"e1": header, "e2": None}

    asyncio.run(scenario())


def test_a_queue_from_before_traces_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "async.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE events (id TEXT PRIMARY KEY, fkey TEXT NOT NULL, account TEXT NOT NULL, "
        "region TEXT NOT NULL, function_name TEXT NOT NULL, qualifier TEXT, payload BLOB NOT "
        "NULL, received_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, requeues "
        "INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL, owner TEXT, lease_until REAL, "
        "last_response TEXT, last_error TEXT)"
    )
    conn.close()
    q = SqliteAsyncQueue(path, owner="me")
    q.open()
    try:

        async def scenario() -> None:
            await q.put(NewEvent("e1", *KEY, None, b"{}", 100.0, trace_id="Root=x"))
            claimed = await q.claim(100, 10, lease_for=30)
            assert [c.trace_id for c in claimed.events] == ["Root=x"]

        asyncio.run(scenario())
    finally:
        q.close()
