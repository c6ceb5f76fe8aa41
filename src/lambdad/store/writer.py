"""The group-commit writer shared by the SQLite stores that take many small writes.

One thread owns a database's connection and runs every operation submitted to it;
whatever is pending when it wakes is committed as one transaction (group commit), so
concurrent writers share one fsync and the event loop never waits on the disk. Each
operation runs inside its own savepoint: one that raises is undone alone, and only
its caller sees the error. Reads may be submitted too; they then see every write
submitted before them.

``open_database`` opens the file such a writer owns, turning a file that is not a
database into ``StoreUnreadable`` so that ``serve`` stops with one clear line.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lambdad.store.sqlite import StoreUnreadable

log = logging.getLogger(__name__)
T = TypeVar("T")

# Operations committed together at most; a batch this size is a few milliseconds.
MAX_BATCH = 512

Operation = Callable[[sqlite3.Connection], Any]


def open_database(
    path: Path | str, schema: str, *, synchronous: str, what: str, holds: str
) -> sqlite3.Connection:
    """Open (creating it) a WAL database and its schema; ``StoreUnreadable`` if the file
    is not one. ``what`` and ``holds`` name it in that error (what is lost if it is
    moved aside)."""
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(schema)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise StoreUnreadable(str(path), exc, what=what, holds=holds) from None
    return conn


class GroupCommitWriter:
    """A thread that owns a connection and commits submitted operations in batches.

    ``stop()`` commits what is pending, ends the thread and closes the connection; it
    is idempotent. ``submit`` after it raises ``RuntimeError``.
    """

    def __init__(self, conn: sqlite3.Connection, *, name: str, what: str) -> None:
        self._conn = conn
        self._what = what  # for the log line of a failed commit
        self._ops: queue.SimpleQueue[tuple[Operation, concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.batches = 0  # commits made, for statistics and the benchmark

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._ops.put(None)
            self._thread.join()
            self._conn.close()

    def submit(self, op: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        if not self._thread.is_alive():
            raise RuntimeError(f"{self._what} is closed")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._ops.put((op, fut))
        return fut

    def call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` and wait for its commit (from a thread that is not the event loop)."""
        return self.submit(op).result()

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

    def _commit(self, batch: list[tuple[Operation, concurrent.futures.Future[Any]]]) -> None:
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
            log.exception("%s: commit of %d operations failed", self._what, len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _, fut in live:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.batches += 1
        for fut, result, error in done:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
