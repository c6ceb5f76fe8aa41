"""The asynchronous invocation queue in its own SQLite database (``async.db``).

Every write goes through a ``GroupCommitWriter``: concurrent 202s share one fsync,
and ``synchronous=FULL`` puts a commit on disk before ``put`` returns, so an
accepted event survives a power cut. On one node only this process uses the file,
so claims found at ``open`` belonged to a process that is gone and are released.

This module owns the claims: events and deliveries leased to one owner until
``lease_until``, finished, rescheduled or released only by that owner. The tables
and their rows are ``queue_sqlite_schema``'s. The counters live in the same
database, so ``lambdad async-stats`` can read them from another process
(``queue_sqlite_stats.read_statistics_file``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lambdad.store import queue_sqlite_schema as schema
from lambdad.store.queue import (
    Claim,
    Delivery,
    FunctionKey,
    FunctionStatistics,
    NewEvent,
    PendingDelivery,
    QueuedEvent,
    fkey,
)
from lambdad.store.queue_shares import Head, shares
from lambdad.store.queue_sqlite_stats import read_statistics
from lambdad.store.sqlite import StoreUnreadable
from lambdad.store.writer import GroupCommitWriter, open_database

log = logging.getLogger(__name__)
T = TypeVar("T")

WHAT = "the asynchronous invocation queue"
HOLDS = "the events queued in it"


class SqliteAsyncQueue:
    """``store.queue.AsyncQueue`` on one SQLite file."""

    def __init__(self, path: Path | str, owner: str | None = None) -> None:
        self.path = Path(path)
        self.owner = owner or uuid.uuid4().hex
        self._writer: GroupCommitWriter | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    # -- life cycle --------------------------------------------------------------------

    def open(self) -> None:
        """Open (creating it) the queue; ``StoreUnreadable`` if the file is not one."""
        conn = open_database(self.path, schema.SCHEMA, synchronous="FULL", what=WHAT, holds=HOLDS)
        try:
            schema.add_trace_column(conn)
            # One node: whoever held a claim in this file before this process is gone.
            released = conn.execute(
                "UPDATE events SET owner=NULL, lease_until=NULL WHERE owner IS NOT NULL"
            ).rowcount
            conn.execute(
                "UPDATE deliveries SET owner=NULL, lease_until=NULL WHERE owner IS NOT NULL"
            )
        except sqlite3.Error as exc:
            conn.close()
            raise StoreUnreadable(str(self.path), exc, what=WHAT, holds=HOLDS) from None
        if released:
            log.info("async queue: %d events claimed before a restart are queued again", released)
        self._writer = GroupCommitWriter(conn, name="lambdad-asyncq", what="the async queue")
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def worker(self, owner: str) -> SqliteAsyncQueue:
        """Another worker on this file, through this queue's writer (several workers;
        the view is closed with this queue, not on its own)."""
        view = SqliteAsyncQueue(self.path, owner)
        view._writer = self._writer
        return view

    @property
    def commits(self) -> int:
        return self._writer.batches if self._writer is not None else 0

    async def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise RuntimeError("the async queue is not open")
        return await asyncio.wrap_future(self._writer.submit(op))

    # -- events --------------------------------------------------------------------------

    async def put(self, event: NewEvent) -> None:
        await self._call(lambda conn: schema.insert_event(conn, event))

    async def put_many(self, events: Sequence[NewEvent]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            for event in events:
                schema.insert_event(conn, event)

        # One operation, so one savepoint and one share of a group commit for them all.
        if events:
            await self._call(op)

    async def claim(
        self,
        now: float,
        limit: int,
        *,
        lease_for: float,
        remaining: Mapping[FunctionKey, int] | None = None,
        default_remaining: int | None = None,
        running: Mapping[FunctionKey, int] | None = None,
    ) -> Claim:
        allowance = {fkey(k): n for k, n in (remaining or {}).items()}
        busy = {fkey(k): n for k, n in (running or {}).items()}
        default = limit if default_remaining is None else default_remaining
        owner = self.owner

        def op(conn: sqlite3.Connection) -> Claim:
            # Each function's queue read from its index, in one statement: how many due,
            # free events it has (up to ``limit``) and when the oldest came due. A claim
            # costs a probe per function with events queued, not a scan of a backlog.
            heads = {
                key: Head(count, oldest)
                for key, count, oldest in conn.execute(
                    schema.QUEUE_HEADS, {"now": now, "owner": owner, "limit": limit}
                )
                if count
            }
            taken = shares(
                heads, limit, remaining=allowance, default_remaining=default, running=busy
            )
            rows: list[Any] = []
            for key, n in taken.items():
                rows.extend(
                    conn.execute(
                        f"SELECT {schema.EVENT_COLUMNS}, not_before, rowid FROM events "
                        f"WHERE fkey = ? AND {schema.DUE_AND_FREE} "
                        "ORDER BY not_before, rowid LIMIT ?",
                        (key, now, owner, now, n),
                    )
                )
            rows.sort(key=lambda r: (r[-2], r[-1]))  # oldest due first, then as queued
            picked = [schema.event_from_row(r) for r in rows]
            conn.executemany(
                "UPDATE events SET owner=?, lease_until=? WHERE id=?",
                [(owner, now + lease_for, e.id) for e in picked],
            )
            due = conn.execute(
                "SELECT MIN(not_before) FROM events WHERE owner IS NULL AND not_before > ?",
                (now,),
            ).fetchone()[0]
            return Claim(picked, due)

        return await self._call(op)

    async def reschedule(
        self,
        event: QueuedEvent,
        not_before: float,
        *,
        attempts: int,
        requeues: int,
        counter: str,
        last_response: dict[str, Any] | None,
        last_error: dict[str, Any] | None,
    ) -> bool:
        owner = self.owner

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE events SET attempts=?, requeues=?, not_before=?, owner=NULL, "
                "lease_until=NULL, last_response=?, last_error=? WHERE id=? AND owner=?",
                (
                    attempts,
                    requeues,
                    not_before,
                    schema.dumps(last_response),
                    schema.dumps(last_error),
                    event.id,
                    owner,
                ),
            )
            if cur.rowcount == 0:
                return False
            schema.bump(conn, event.key, counter)
            return True

        return await self._call(op)

    async def finish(
        self,
        event: QueuedEvent,
        *,
        counter: str,
        deliveries: Sequence[Delivery] = (),
        follow_ups: Sequence[NewEvent] = (),
        now: float = 0.0,
    ) -> bool:
        owner = self.owner

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM events WHERE id=? AND owner=?", (event.id, owner))
            if cur.rowcount == 0:
                return False
            schema.bump(conn, event.key, counter)
            for d in deliveries:
                schema.insert_delivery(conn, event.key, d, now)
            for e in follow_ups:
                schema.insert_event(conn, e)
            return True

        return await self._call(op)

    async def release(self, events: Iterable[QueuedEvent]) -> None:
        ids = [(e.id, self.owner) for e in events]
        await self._call(
            lambda conn: conn.executemany(
                "UPDATE events SET owner=NULL, lease_until=NULL WHERE id=? AND owner=?", ids
            )
        )

    # -- deliveries ------------------------------------------------------------------------

    async def claim_deliveries(
        self, now: float, limit: int, *, lease_for: float
    ) -> tuple[list[PendingDelivery], float | None]:
        owner = self.owner

        def op(conn: sqlite3.Connection) -> tuple[list[PendingDelivery], float | None]:
            rows = conn.execute(
                "SELECT id, account, region, function_name, target, kind, body, meta, "
                "created_at, attempts FROM deliveries WHERE not_before <= ? AND "
                "(owner IS NULL OR (owner != ? AND lease_until < ?)) ORDER BY not_before LIMIT ?",
                (now, owner, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE deliveries SET owner=?, lease_until=? WHERE id=?",
                [(owner, now + lease_for, r[0]) for r in rows],
            )
            due = conn.execute(
                "SELECT MIN(not_before) FROM deliveries WHERE owner IS NULL AND not_before > ?",
                (now,),
            ).fetchone()[0]
            return [schema.delivery_from_row(r) for r in rows], due

        return await self._call(op)

    async def delivered(self, pending: PendingDelivery) -> None:
        await self._call(
            lambda conn: conn.execute("DELETE FROM deliveries WHERE id=?", (pending.id,))
        )

    async def delivery_failed(self, pending: PendingDelivery, not_before: float | None) -> None:
        def op(conn: sqlite3.Connection) -> None:
            schema.bump(conn, pending.key, "delivery_failures")
            if not_before is None:
                conn.execute("DELETE FROM deliveries WHERE id=?", (pending.id,))
                schema.bump(conn, pending.key, "deliveries_dropped")
            else:
                conn.execute(
                    "UPDATE deliveries SET attempts=attempts+1, not_before=?, owner=NULL, "
                    "lease_until=NULL WHERE id=?",
                    (not_before, pending.id),
                )

        await self._call(op)

    # -- statistics ------------------------------------------------------------------------

    def statistics(self, now: float) -> list[FunctionStatistics]:
        # Its own connection: WAL lets it read while the writer commits.
        with self._read_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(str(self.path), check_same_thread=False)
            return read_statistics(self._reader, now)
