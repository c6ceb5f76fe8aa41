"""Function logs: what functions print, kept per log group and stream, served in
CloudWatch Logs' shapes.

``LogStore.put`` sits on the invoke hot path, so it only appends to a bounded
in-memory buffer; ``run_flusher`` writes the buffer to SQLite in one transaction
every ~100 ms. Both bounds are deliberate: a function that floods its output loses
its oldest *unflushed* lines (counted in ``dropped``) instead of exhausting memory,
and retention keeps at most ``retention_events`` events per log group on disk (and
drops events older than a group's ``retentionInDays``, when one is set).

Queries return the dicts CloudWatch Logs returns (``DescribeLogGroups``,
``DescribeLogStreams``, ``GetLogEvents``, ``FilterLogEvents``), so ``api.logs_api``
only parses and serialises. Groups and streams are created implicitly by ``put``,
as Lambda does. The reads themselves live in ``observe.log_queries``, the shared
vocabulary (limits, errors, tokens, documents) in ``observe.log_shapes``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from lambdad.clock import Clock
from lambdad.observe import log_queries as queries
from lambdad.observe.log_shapes import (
    DAY_MS,
    EVENT_OVERHEAD,
    MAX_PUT_BYTES,
    RETENTION_DAYS,
    InvalidParameterException,
    ResourceAlreadyExistsException,
)
from lambdad.store.sqlite import StoreUnreadable

log = logging.getLogger(__name__)

# Age-based retention is a sweep over every group: once a minute is plenty.
EXPIRY_INTERVAL = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    retention_days INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    first_event INTEGER, last_event INTEGER, last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_id, name)
);
-- AUTOINCREMENT: event ids are eventIds and cursor tie-breakers, never to be reused
-- after retention deletes old rows.
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    ingestion INTEGER NOT NULL,
    size INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_stream ON log_events (stream_id, ts, id);
CREATE INDEX IF NOT EXISTS log_events_group ON log_events (group_id, ts, id);
"""


class _Pending(NamedTuple):
    """One event accepted by ``put`` and not yet written (a tuple: several per invoke,
    built for a fraction of a frozen dataclass's cost)."""

    account: str
    region: str
    group: str
    stream: str
    timestamp: int
    ingestion: int
    message: str


# -- the store -----------------------------------------------------------------------------


class LogStore:
    """Log groups, streams and events of every (account, region), in one SQLite file.

    Thread-safe: ``put`` may be called from any thread; ``flush`` and the queries
    serialise on one connection lock, so the API may run them in worker threads.
    """

    def __init__(
        self,
        db_path: Path | str,
        clock: Clock,
        *,
        retention_events: int = 100_000,
        max_event_bytes: int = 256 * 1024,
        buffer_events: int = 10_000,
        buffer_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.path = str(db_path)
        self.retention_events = retention_events
        self.max_event_bytes = max_event_bytes
        self.buffer_events = buffer_events
        self.buffer_bytes = buffer_bytes
        self.dropped = 0
        self._clock = clock
        # Several events per invoke are stamped: the system clock is read directly.
        self._conn: sqlite3.Connection | None = None
        self._db_lock = threading.RLock()
        self._buf_lock = threading.Lock()
        self._buffer: deque[_Pending] = deque()
        # Characters, not bytes: measuring UTF-8 would cost an encode per line.
        self._buffered_chars = 0
        self._dropped_unreported = 0
        self._last_dropped_group = ""
        self._group_ids: dict[tuple[str, str, str], int] = {}
        self._stream_ids: dict[tuple[int, str], int] = {}
        self._next_expiry = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Open (creating it) the database; ``StoreUnreadable`` if the file is not one."""
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # Logs may lose the last instant on a power cut; they must not slow invokes.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            conn.close()
            raise self._unreadable(exc) from None
        self._conn = conn

    def _unreadable(self, exc: sqlite3.Error) -> StoreUnreadable:
        return StoreUnreadable(
            str(self.path), exc, what="the log database", holds="the log events it holds"
        )

    def close(self) -> None:
        with self._db_lock:
            if self._conn is None:
                return
            try:
                self.flush()
            finally:
                self._conn.close()
                self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "log store is not open"
        return self._conn

    # -- writing -----------------------------------------------------------------------

    def put(
        self, account: str, region: str, group: str, stream: str, timestamp_ms: int, message: str
    ) -> None:
        """Accept one event; no I/O. Over ``max_event_bytes`` it is truncated."""
        # A str of n characters has at most 4n UTF-8 bytes: only long lines pay an encode.
        if len(message) * 4 > self.max_event_bytes:
            message = _truncate(message, self.max_event_bytes)
        event = _Pending(account, region, group, stream, timestamp_ms, self._now_ms(), message)
        with self._buf_lock:
            self._buffer.append(event)
            self._buffered_chars += len(message)
            while len(self._buffer) > 1 and (
                len(self._buffer) > self.buffer_events or self._buffered_chars > self.buffer_bytes
            ):
                old = self._buffer.popleft()
                self._buffered_chars -= len(old.message)
                self.dropped += 1
                self._dropped_unreported += 1
                self._last_dropped_group = old.group

    def flush(self) -> None:
        """Write everything buffered in one transaction, then enforce retention."""
        with self._db_lock:
            # Swapped under the connection lock so that batches are written in put order.
            with self._buf_lock:
                batch, self._buffer = self._buffer, deque()
                self._buffered_chars = 0
                dropped, self._dropped_unreported = self._dropped_unreported, 0
                dropped_group = self._last_dropped_group
            if dropped:
                log.warning(
                    "log buffer full: dropped %d events (last from %s) arriving faster "
                    "than they could be stored",
                    dropped,
                    dropped_group,
                )
            if batch:
                self._write(batch)
            self._expire_if_due()

    async def run_flusher(self, interval: float = 0.1) -> None:
        """Flush every ``interval`` seconds until cancelled; flush once more then."""
        try:
            while True:
                await asyncio.sleep(interval)
                if not self._buffer and self._clock.monotonic() < self._next_expiry:
                    continue
                try:
                    # SQLite I/O off the event loop: invokes keep running meanwhile.
                    await asyncio.to_thread(self.flush)
                except (sqlite3.Error, OSError):
                    log.exception("writing logs to %s failed; the batch is lost", self.path)
        finally:
            if self._conn is not None:
                try:
                    self.flush()
                except (sqlite3.Error, OSError):
                    log.exception("writing logs to %s failed; the batch is lost", self.path)

    def _write(self, batch: Iterable[_Pending]) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows: list[tuple[int, int, int, int, int, str]] = []
            # stream id -> [first ts, last ts, last ingestion, bytes]
            streams: dict[int, list[int]] = {}
            # group id -> [events, bytes]
            groups: dict[int, list[int]] = {}
            # (account, region, group, stream) -> (group id, stream id, stream sums)
            targets: dict[tuple[str, str, str, str], tuple[int, int, list[int]]] = {}
            for account, region, group, stream, ts, ingestion, message in batch:
                target = targets.get((account, region, group, stream))
                if target is None:
                    gid = self._group_id(account, region, group, ingestion)
                    sid = self._stream_id(gid, stream, ingestion)
                    s = streams.get(sid)
                    if s is None:
                        s = streams[sid] = [ts, ts, ingestion, 0]
                    target = targets[(account, region, group, stream)] = (gid, sid, s)
                gid, sid, s = target
                try:
                    size = len(message.encode())
                except UnicodeEncodeError:
                    message, size = _storable(message)
                rows.append((gid, sid, ts, ingestion, size, message))
                if ts < s[0]:
                    s[0] = ts
                if ts > s[1]:
                    s[1] = ts
                if ingestion > s[2]:
                    s[2] = ingestion
                s[3] += size
                g = groups.get(gid)
                if g is None:
                    groups[gid] = [1, size]
                else:
                    g[0] += 1
                    g[1] += size
            _insert_events(conn, rows)
            for sid, (first, last, ingested, size) in streams.items():
                conn.execute(
                    "UPDATE log_streams SET first_event = MIN(COALESCE(first_event, ?), ?), "
                    "last_event = MAX(COALESCE(last_event, ?), ?), "
                    "last_ingestion = MAX(COALESCE(last_ingestion, ?), ?), "
                    "stored_bytes = stored_bytes + ? WHERE id = ?",
                    (first, first, last, last, ingested, ingested, size, sid),
                )
            for gid, (count, size) in groups.items():
                conn.execute(
                    "UPDATE log_groups SET event_count = event_count + ?, "
                    "stored_bytes = stored_bytes + ? WHERE id = ?",
                    (count, size, gid),
                )
                self._enforce_count(gid)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            # Ids cached during the failed transaction may name rows that no longer exist.
            self._group_ids.clear()
            self._stream_ids.clear()
            raise

    def _group_id(self, account: str, region: str, name: str, now_ms: int) -> int:
        key = (account, region, name)
        gid = self._group_ids.get(key)
        if gid is None:
            self.conn.execute(
                "INSERT OR IGNORE INTO log_groups (account, region, name, creation_time) "
                "VALUES (?,?,?,?)",
                (account, region, name, now_ms),
            )
            (gid,) = self.conn.execute(
                "SELECT id FROM log_groups WHERE account=? AND region=? AND name=?", key
            ).fetchone()
            if len(self._group_ids) > 10_000:
                self._group_ids.clear()
            self._group_ids[key] = gid
        return gid

    def _stream_id(self, gid: int, name: str, now_ms: int) -> int:
        key = (gid, name)
        sid = self._stream_ids.get(key)
        if sid is None:
            self.conn.execute(
                "INSERT OR IGNORE INTO log_streams (group_id, name, creation_time) VALUES (?,?,?)",
                (gid, name, now_ms),
            )
            (sid,) = self.conn.execute(
                "SELECT id FROM log_streams WHERE group_id=? AND name=?", key
            ).fetchone()
            # One stream per execution environment: the cache must not grow forever.
            if len(self._stream_ids) > 50_000:
                self._stream_ids.clear()
            self._stream_ids[key] = sid
        return sid

    def _enforce_count(self, gid: int) -> None:
        (count,) = self.conn.execute(
            "SELECT event_count FROM log_groups WHERE id=?", (gid,)
        ).fetchone()
        excess = count - self.retention_events
        if excess > 0:
            self._delete_events(
                gid,
                "SELECT id FROM log_events WHERE group_id=? ORDER BY ts, id LIMIT ?",
                (gid, excess),
            )

    def _delete_events(self, gid: int, victims: str, args: tuple[object, ...]) -> int:
        """Delete the events ``victims`` selects, keeping the stream and group sums right."""
        conn = self.conn
        per_stream = conn.execute(
            f"SELECT stream_id, COUNT(*), SUM(size) FROM log_events WHERE id IN ({victims}) "
            "GROUP BY stream_id",
            args,
        ).fetchall()
        if not per_stream:
            return 0
        conn.execute(f"DELETE FROM log_events WHERE id IN ({victims})", args)
        for sid, _count, size in per_stream:
            # An emptied stream keeps its first/last timestamps, as CloudWatch's do.
            conn.execute(
                "UPDATE log_streams SET stored_bytes = stored_bytes - ?, first_event = "
                "COALESCE((SELECT MIN(ts) FROM log_events WHERE stream_id = ?), first_event) "
                "WHERE id = ?",
                (size, sid, sid),
            )
        count = sum(r[1] for r in per_stream)
        size = sum(r[2] for r in per_stream)
        conn.execute(
            "UPDATE log_groups SET event_count = event_count - ?, stored_bytes = stored_bytes - ? "
            "WHERE id = ?",
            (count, size, gid),
        )
        return int(count)

    def _expire_if_due(self) -> None:
        now = self._clock.monotonic()
        if now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRY_INTERVAL
        now_ms = self._now_ms()
        conn = self.conn
        groups = conn.execute(
            "SELECT id, name, retention_days FROM log_groups WHERE retention_days IS NOT NULL"
        ).fetchall()
        for gid, name, days in groups:
            conn.execute("BEGIN IMMEDIATE")
            try:
                n = self._delete_events(
                    gid,
                    "SELECT id FROM log_events WHERE group_id=? AND ts < ?",
                    (gid, now_ms - days * DAY_MS),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if n:
                log.info("expired %d events of log group %s (retention %d days)", n, name, days)

    # -- control (CreateLogGroup, PutLogEvents, ...) -------------------------------------

    def create_log_group(self, account: str, region: str, group: str) -> None:
        with self._db_lock:
            self.flush()
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO log_groups (account, region, name, creation_time) "
                "VALUES (?,?,?,?)",
                (account, region, group, self._now_ms()),
            )
            if cur.rowcount == 0:
                raise ResourceAlreadyExistsException("The specified log group already exists")

    def create_log_stream(self, account: str, region: str, group: str, stream: str) -> None:
        with self._db_lock:
            self.flush()
            gid = queries.group_row(self.conn, account, region, group)[0]
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO log_streams (group_id, name, creation_time) VALUES (?,?,?)",
                (gid, stream, self._now_ms()),
            )
            if cur.rowcount == 0:
                raise ResourceAlreadyExistsException("The specified log stream already exists")

    def delete_log_group(self, account: str, region: str, group: str) -> None:
        with self._db_lock:
            self.flush()
            gid = queries.group_row(self.conn, account, region, group)[0]
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM log_events WHERE group_id=?", (gid,))
                conn.execute("DELETE FROM log_streams WHERE group_id=?", (gid,))
                conn.execute("DELETE FROM log_groups WHERE id=?", (gid,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                self._group_ids.clear()
                self._stream_ids.clear()

    def delete_log_stream(self, account: str, region: str, group: str, stream: str) -> None:
        with self._db_lock:
            self.flush()
            gid = queries.group_row(self.conn, account, region, group)[0]
            sid = queries.stream_id(self.conn, gid, stream)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._delete_events(gid, "SELECT id FROM log_events WHERE stream_id=?", (sid,))
                self.conn.execute("DELETE FROM log_streams WHERE id=?", (sid,))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            finally:
                self._stream_ids.clear()

    def put_retention_policy(self, account: str, region: str, group: str, days: int | None) -> None:
        """Set (or with ``None`` remove) a group's ``retentionInDays``."""
        if days is not None and days not in RETENTION_DAYS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(map(str, RETENTION_DAYS))}]"
            )
        with self._db_lock:
            self.flush()
            gid = queries.group_row(self.conn, account, region, group)[0]
            self.conn.execute("UPDATE log_groups SET retention_days=? WHERE id=?", (days, gid))
            self._next_expiry = 0.0

    def put_log_events(
        self, account: str, region: str, group: str, stream: str, events: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """PutLogEvents: written before returning, unlike ``put``; existing stream only."""
        with self._db_lock:
            self.flush()
            gid, _name, _created, retention, _bytes = queries.group_row(
                self.conn, account, region, group
            )
            queries.stream_id(self.conn, gid, stream)
            now = self._now_ms()
            total = 0
            for i, ev in enumerate(events):
                total += len(str(ev["message"]).encode("utf-8", "replace")) + EVENT_OVERHEAD
                if i and ev["timestamp"] < events[i - 1]["timestamp"]:
                    raise InvalidParameterException(
                        "Log events in a single PutLogEvents request must be in chronological "
                        "order."
                    )
            if total > MAX_PUT_BYTES:
                raise InvalidParameterException(
                    f"Upload too large: {total} bytes exceeds limit of {MAX_PUT_BYTES}"
                )
            if events and events[-1]["timestamp"] - events[0]["timestamp"] > DAY_MS:
                raise InvalidParameterException(
                    "The batch of log events in a single PutLogEvents request cannot span "
                    "more than 24 hours."
                )
            rejected: dict[str, int] = {}
            accepted: list[_Pending] = []
            too_old = now - 14 * DAY_MS
            expired = now - retention * DAY_MS if retention else None
            for i, ev in enumerate(events):
                ts = int(ev["timestamp"])
                if ts > now + 2 * 3600 * 1000:
                    rejected.setdefault("tooNewLogEventStartIndex", i)
                elif expired is not None and ts < expired:
                    rejected["expiredLogEventEndIndex"] = i
                elif ts < too_old:
                    rejected["tooOldLogEventEndIndex"] = i
                else:
                    message = _truncate(str(ev["message"]), self.max_event_bytes)
                    accepted.append(_Pending(account, region, group, stream, ts, now, message))
            if accepted:
                self._write(accepted)
            return {"rejectedLogEventsInfo": rejected} if rejected else {}

    # -- queries (observe.log_queries, after a flush) -----------------------------------

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            self.flush()
            yield self.conn

    def describe_log_groups(
        self,
        account: str,
        region: str,
        prefix: str | None = None,
        limit: int | None = None,
        token: str | None = None,
        *,
        pattern: str | None = None,
    ) -> dict[str, Any]:
        with self._reading() as conn:
            return queries.describe_log_groups(conn, account, region, prefix, limit, token, pattern)

    def describe_log_streams(
        self,
        account: str,
        region: str,
        group: str,
        prefix: str | None = None,
        order_by: str | None = None,
        descending: bool | None = None,
        limit: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        with self._reading() as conn:
            return queries.describe_log_streams(
                conn, account, region, group, prefix, order_by, descending, limit, token
            )

    def get_log_events(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        start_time: int | None = None,
        end_time: int | None = None,
        start_from_head: bool | None = None,
        limit: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        with self._reading() as conn:
            return queries.get_log_events(
                conn, account, region, group, stream, start_time, end_time, start_from_head,
                limit, token,
            )  # fmt: skip

    def filter_log_events(
        self,
        account: str,
        region: str,
        group: str,
        stream_names: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        filter_pattern: str | None = None,
        limit: int | None = None,
        token: str | None = None,
        *,
        start_from_head: bool | None = None,
    ) -> dict[str, Any]:
        with self._reading() as conn:
            return queries.filter_log_events(
                conn, account, region, group, stream_names, stream_prefix, start_time, end_time,
                filter_pattern, limit, token, start_from_head,
            )  # fmt: skip

    # -- helpers -------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return self._clock.now_ms()


def _truncate(message: str, max_bytes: int) -> str:
    data = message.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return message
    # "ignore" drops a character cut in half at the boundary.
    return data[:max_bytes].decode("utf-8", "ignore")


# Rows per INSERT statement, largest first: a batch is written with a few multi-row
# statements of these sizes (a handful of distinct statements for the statement cache).
_INSERT_SIZES = (256, 64, 16, 4, 1)


@functools.cache
def _insert_sql(rows: int) -> str:
    return (
        "INSERT INTO log_events (group_id, stream_id, ts, ingestion, size, message) VALUES "
        + ",".join(["(?,?,?,?,?,?)"] * rows)
    )


def _insert_events(
    conn: sqlite3.Connection, rows: Sequence[tuple[int, int, int, int, int, str]]
) -> None:
    """Insert ``rows`` in order. Multi-row statements rather than executemany(): each
    statement is one step with the GIL released, where executemany() releases and takes
    it back for every row, and the event loop's thread waits for it each time."""
    done, total = 0, len(rows)
    for size in _INSERT_SIZES:
        while total - done >= size:
            chunk = rows[done : done + size]
            conn.execute(_insert_sql(size), [value for row in chunk for value in row])
            done += size


def _storable(message: str) -> tuple[str, int]:
    """The message as SQLite can store it (valid UTF-8), and its size in bytes."""
    try:
        data = message.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from undecodable process output.
        data = message.encode("utf-8", "replace")
        message = data.decode("utf-8")
    return message, len(data)
