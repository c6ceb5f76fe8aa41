"""The durable queue of asynchronous invocations, in its own SQLite database.

An event is committed (WAL, ``synchronous=FULL``: on disk) before ``Invoke``
answers 202. A worker *claims* events (an owner and a visibility deadline), runs
them, then either *reschedules* one (retry, requeue) or *finishes* it: the event
is deleted and, in the same transaction, what must be sent to destinations and
dead-letter queues is recorded as *deliveries*, and the async invocations of
function destinations are queued. A crash at any moment leaves each event queued
or claimed by a dead owner, and claims of a dead owner are released when the
queue opens (on one node only this process uses the file) or when their deadline
passes (several workers): every accepted event runs at least once.

Every write goes through one writer thread that owns the connection and commits
whatever is pending as one transaction (group commit): concurrent 202s share one
fsync, and the event loop never waits on the disk. Each operation runs inside its
own savepoint, so one failing operation does not undo the others of its batch.

Counters per function (see ``async_stats``) live in the same database and change in
the same transactions as the events they count.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lambdad.invoke.async_stats import FunctionStatistics, read_statistics
from lambdad.store.sqlite import StoreUnreadable

log = logging.getLogger(__name__)
T = TypeVar("T")

# Operations committed together at most; a batch this size is a few milliseconds.
MAX_BATCH = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    fkey TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    requeues INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    owner TEXT,
    lease_until REAL,
    last_response TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events (not_before);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (not_before);
CREATE TABLE IF NOT EXISTS counters (
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (account, region, function_name, name)
);
"""

FunctionKey = tuple[str, str, str]  # account, region, function name


def fkey(key: FunctionKey) -> str:
    return "/".join(key)


@dataclass(frozen=True, slots=True)
class NewEvent:
    id: str  # the request id answered with the 202, kept across retries
    account: str
    region: str
    function_name: str
    qualifier: str | None
    payload: bytes
    received_at: float  # epoch seconds

    @property
    def key(self) -> FunctionKey:
        return (self.account, self.region, self.function_name)


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    id: str
    account: str
    region: str
    function_name: str
    qualifier: str | None
    payload: bytes
    received_at: float
    attempts: int
    requeues: int
    # The last answer of the function ({statusCode, executedVersion, functionError,
    # payload}) and the last reason it could not run ({statusCode, message}).
    last_response: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None

    @property
    def key(self) -> FunctionKey:
        return (self.account, self.region, self.function_name)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Something to send once an event is done: a destination record or a dead letter."""

    target: str  # ARN of an SQS queue, SNS topic or EventBridge bus
    kind: str  # "destination" or "dead-letter"
    body: str
    condition: str
    function_arn: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    key: FunctionKey
    delivery: Delivery
    created_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    events: list[QueuedEvent]
    next_due: float | None  # when the next unclaimed event becomes due, if any


class _Writer:
    """A thread that owns the write connection and commits operations in batches."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._ops: queue.SimpleQueue[
            tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lambdad-asyncq", daemon=True)
        self.batches = 0  # commits made, for statistics and the benchmark

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Commit what is pending, then end the thread."""
        if self._thread.is_alive():
            self._ops.put(None)
            self._thread.join()

    def submit(self, op: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        if not self._thread.is_alive():
            raise RuntimeError("the async queue is closed")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._ops.put((op, fut))
        return fut

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._ops.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._ops.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(
        self,
        batch: list[tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]]],
    ) -> None:
        conn = self._conn
        # A caller that gave up (cancelled) before its turn is skipped.
        live = [(op, fut) for op, fut in batch if fut.set_running_or_notify_cancel()]
        done: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op, fut in live:
                conn.execute("SAVEPOINT op")
                try:
                    result = op(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    done.append((fut, None, exc))
                else:
                    conn.execute("RELEASE op")
                    done.append((fut, result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.exception("async queue commit of %d operations failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _, fut in live:
                fut.set_exception(exc)
            return
        self.batches += 1
        for fut, result, error in done:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns, so a 202 survives a power cut.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class AsyncQueue:
    """The queue; every method but ``open``/``close``/``statistics`` is a coroutine."""

    def __init__(self, path: Path | str, owner: str | None = None) -> None:
        self.path = Path(path)
        self.owner = owner or uuid.uuid4().hex
        self._writer: _Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    # -- life cycle --------------------------------------------------------------------

    def open(self) -> None:
        """Open (creating it) the queue; ``StoreUnreadable`` if the file is not one."""
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(self.path)
            conn.executescript(_SCHEMA)
            # One node: whoever held a claim in this file before this process is gone.
            released = conn.execute(
                "UPDATE events SET owner=NULL, lease_until=NULL WHERE owner IS NOT NULL"
            ).rowcount
            conn.execute(
                "UPDATE deliveries SET owner=NULL, lease_until=NULL WHERE owner IS NOT NULL"
            )
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise StoreUnreadable(
                str(self.path),
                exc,
                what="the asynchronous invocation queue",
                holds="the events queued in it",
            ) from None
        if released:
            log.info("async queue: %d events claimed before a restart are queued again", released)
        self._writer = _Writer(conn)
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer._conn.close()
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def commits(self) -> int:
        return self._writer.batches if self._writer is not None else 0

    async def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise RuntimeError("the async queue is not open")
        return await asyncio.wrap_future(self._writer.submit(op))

    def call_blocking(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run one write operation from a thread that is not the event loop."""
        if self._writer is None:
            raise RuntimeError("the async queue is not open")
        return self._writer.submit(op).result()

    # -- events --------------------------------------------------------------------------

    async def put(self, event: NewEvent) -> None:
        """Queue one event; returns once it is on disk."""
        await self._call(lambda conn: _insert_event(conn, event))

    async def claim(
        self,
        now: float,
        limit: int,
        *,
        lease_for: float,
        remaining: Mapping[FunctionKey, int] | None = None,
        default_remaining: int | None = None,
    ) -> Claim:
        """Up to ``limit`` due events, at most ``remaining[key]`` of each function."""
        allowance = {fkey(k): n for k, n in (remaining or {}).items()}
        default = limit if default_remaining is None else default_remaining
        owner = self.owner

        def op(conn: sqlite3.Connection) -> Claim:
            excluded = [k for k, n in allowance.items() if n <= 0]
            sql = (
                "SELECT id, account, region, function_name, qualifier, payload, received_at, "
                "attempts, requeues, last_response, last_error, fkey FROM events "
                "WHERE not_before <= ? AND (owner IS NULL OR (owner != ? AND lease_until < ?))"
            )
            args: list[Any] = [now, owner, now]
            if excluded:
                sql += f" AND fkey NOT IN ({','.join('?' * len(excluded))})"
                args.extend(excluded)
            sql += " ORDER BY not_before LIMIT ?"
            args.append(limit * 4)
            left = dict(allowance)
            picked: list[QueuedEvent] = []
            for row in conn.execute(sql, args):
                if len(picked) >= limit:
                    break
                n = left.get(row[11], default)
                if n <= 0:
                    continue
                left[row[11]] = n - 1
                picked.append(_event(row))
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
        """Put a claimed event back for a later attempt (False: the claim was lost)."""
        owner = self.owner

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE events SET attempts=?, requeues=?, not_before=?, owner=NULL, "
                "lease_until=NULL, last_response=?, last_error=? WHERE id=? AND owner=?",
                (
                    attempts,
                    requeues,
                    not_before,
                    _dumps(last_response),
                    _dumps(last_error),
                    event.id,
                    owner,
                ),
            )
            if cur.rowcount == 0:
                return False
            _bump(conn, event.key, counter)
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
        """Remove a claimed event, recording what must be sent on (False: claim lost)."""
        owner = self.owner

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM events WHERE id=? AND owner=?", (event.id, owner))
            if cur.rowcount == 0:
                return False
            _bump(conn, event.key, counter)
            for d in deliveries:
                _insert_delivery(conn, event.key, d, now)
            for e in follow_ups:
                _insert_event(conn, e)
            return True

        return await self._call(op)

    async def release(self, events: Iterable[QueuedEvent]) -> None:
        """Give back claimed events that were not started."""
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
            return [_delivery(r) for r in rows], due

        return await self._call(op)

    async def delivered(self, pending: PendingDelivery) -> None:
        await self._call(
            lambda conn: conn.execute("DELETE FROM deliveries WHERE id=?", (pending.id,))
        )

    async def delivery_failed(self, pending: PendingDelivery, not_before: float | None) -> None:
        """Try again at ``not_before``, or give up on it (None)."""

        def op(conn: sqlite3.Connection) -> None:
            _bump(conn, pending.key, "delivery_failures")
            if not_before is None:
                conn.execute("DELETE FROM deliveries WHERE id=?", (pending.id,))
                _bump(conn, pending.key, "deliveries_dropped")
            else:
                conn.execute(
                    "UPDATE deliveries SET attempts=attempts+1, not_before=?, owner=NULL, "
                    "lease_until=NULL WHERE id=?",
                    (not_before, pending.id),
                )

        await self._call(op)

    # -- statistics ------------------------------------------------------------------------

    def statistics(self, now: float) -> list[FunctionStatistics]:
        """Counters and queue state per function (a read; safe on the event loop)."""
        with self._read_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(str(self.path), check_same_thread=False)
            return read_statistics(self._reader, now)


# -- row helpers ----------------------------------------------------------------------


def _insert_event(conn: sqlite3.Connection, e: NewEvent) -> None:
    conn.execute(
        "INSERT INTO events (id, fkey, account, region, function_name, qualifier, payload, "
        "received_at, not_before) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            e.id,
            fkey(e.key),
            e.account,
            e.region,
            e.function_name,
            e.qualifier,
            e.payload,
            e.received_at,
            e.received_at,
        ),
    )
    _bump(conn, e.key, "received")


def _insert_delivery(conn: sqlite3.Connection, key: FunctionKey, d: Delivery, now: float) -> None:
    meta = {
        "condition": d.condition,
        "functionArn": d.function_arn,
        "attributes": dict(d.attributes),
    }
    conn.execute(
        "INSERT INTO deliveries (account, region, function_name, target, kind, body, meta, "
        "created_at, not_before) VALUES (?,?,?,?,?,?,?,?,?)",
        (*key, d.target, d.kind, d.body, json.dumps(meta), now, now),
    )


def _bump(conn: sqlite3.Connection, key: FunctionKey, name: str, n: int = 1) -> None:
    conn.execute(
        "INSERT INTO counters (account, region, function_name, name, value) VALUES (?,?,?,?,?) "
        "ON CONFLICT (account, region, function_name, name) DO UPDATE SET value = value + "
        "excluded.value",
        (*key, name, n),
    )


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _loads(value: str | None) -> dict[str, Any] | None:
    return None if value is None else dict(json.loads(value))


def _event(row: Sequence[Any]) -> QueuedEvent:
    return QueuedEvent(
        id=row[0],
        account=row[1],
        region=row[2],
        function_name=row[3],
        qualifier=row[4],
        payload=bytes(row[5]),
        received_at=float(row[6]),
        attempts=int(row[7]),
        requeues=int(row[8]),
        last_response=_loads(row[9]),
        last_error=_loads(row[10]),
    )


def _delivery(row: Sequence[Any]) -> PendingDelivery:
    meta = json.loads(row[7])
    return PendingDelivery(
        id=int(row[0]),
        key=(row[1], row[2], row[3]),
        delivery=Delivery(
            target=row[4],
            kind=row[5],
            body=row[6],
            condition=meta.get("condition", ""),
            function_arn=meta.get("functionArn", ""),
            attributes=meta.get("attributes") or {},
        ),
        created_at=float(row[8]),
        attempts=int(row[9]),
    )
