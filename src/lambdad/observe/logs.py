"""Function logs: what functions print, kept per log group and stream, served in
CloudWatch Logs' shapes.

``LogStore.put`` sits on the invoke hot path, so it only appends to a bounded
in-memory buffer; ``run_flusher`` writes the buffer to its ``LogStorage`` (SQLite,
``store.logs_sqlite``) in one transaction every ~100 ms. Both bounds are deliberate:
a function that floods its output loses its oldest *unflushed* lines (counted in
``dropped``) instead of exhausting memory, and retention keeps at most
``retention_events`` events per log group on disk (and drops events older than a
group's ``retentionInDays``, when one is set).

Queries return the dicts CloudWatch Logs returns (``DescribeLogGroups``,
``DescribeLogStreams``, ``GetLogEvents``, ``FilterLogEvents``), so ``api.logs_api``
only parses and serialises. Groups and streams are created implicitly by ``put``,
as Lambda does. What a query means lives in ``observe.log_queries``, the shared
vocabulary (limits, errors, tokens, documents) in ``observe.log_shapes``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

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
from lambdad.store.logs import LogRecord, LogStorage, StoredEvent

log = logging.getLogger(__name__)

# Age-based retention is a sweep over every group: once a minute is plenty.
EXPIRY_INTERVAL = 60.0
# Events read per chunk by a scan (Logs Insights).
_SCAN_CHUNK = 5000
_new_record = tuple.__new__


# -- the store -----------------------------------------------------------------------------


class LogStore:
    """Log groups, streams and events of every (account, region), kept by a ``LogStorage``.

    Thread-safe: ``put`` may be called from any thread; ``flush`` and the queries
    serialise on one lock, so the API may run them in worker threads.
    """

    def __init__(
        self,
        storage: LogStorage,
        clock: Clock,
        *,
        retention_events: int = 100_000,
        max_event_bytes: int = 256 * 1024,
        buffer_events: int = 10_000,
        buffer_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.storage = storage
        self.retention_events = retention_events
        self.max_event_bytes = max_event_bytes
        self.buffer_events = buffer_events
        self.buffer_bytes = buffer_bytes
        self.dropped = 0
        self._clock = clock
        self._open = False
        self._db_lock = threading.RLock()
        self._buf_lock = threading.Lock()
        self._buffer: deque[LogRecord] = deque()
        # Characters, not bytes: measuring UTF-8 would cost an encode per line.
        self._buffered_chars = 0
        self._dropped_unreported = 0
        self._last_dropped_group = ""
        self._next_expiry = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Open the storage (``StoreUnreadable`` if its file is not a database)."""
        self.storage.open()
        self._open = True

    def close(self) -> None:
        with self._db_lock:
            if not self._open:
                return
            try:
                self.flush()
            finally:
                self._open = False
                self.storage.close()

    # -- writing -----------------------------------------------------------------------

    def put(
        self, account: str, region: str, group: str, stream: str, timestamp_ms: int, message: str
    ) -> None:
        """Accept one event; no I/O. Over ``max_event_bytes`` it is truncated."""
        # A str of n characters has at most 4n UTF-8 bytes: only long lines pay an encode.
        if len(message) * 4 > self.max_event_bytes:
            message = _truncate(message, self.max_event_bytes)
        # tuple.__new__: half the cost of the NamedTuple's own __new__ (three per invoke).
        event = _new_record(
            LogRecord,
            (account, region, group, stream, timestamp_ms, self._clock.now_ms(), message),
        )
        with self._buf_lock:
            buffer = self._buffer
            buffer.append(event)
            self._buffered_chars += len(message)
            if len(buffer) > self.buffer_events or self._buffered_chars > self.buffer_bytes:
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        """Drop the oldest events until the buffer is within its bounds (keeping one)."""
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
            # Swapped under the storage lock so that batches are written in put order.
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
                self.storage.append(batch, keep=self.retention_events)
            self._expire_if_due()

    async def run_flusher(self, interval: float = 0.1) -> None:
        """Flush every ``interval`` seconds until cancelled; flush once more then."""
        try:
            while True:
                await asyncio.sleep(interval)
                if not self._buffer and self._clock.monotonic() < self._next_expiry:
                    continue
                try:
                    # Storage I/O off the event loop: invokes keep running meanwhile.
                    await asyncio.to_thread(self.flush)
                except Exception:
                    # The flusher must outlive a failing disk: later batches may fare better.
                    log.exception("writing logs to %s failed; the batch is lost", self.storage.name)
        finally:
            if self._open:
                try:
                    self.flush()
                except Exception:
                    log.exception("writing logs to %s failed; the batch is lost", self.storage.name)

    def _expire_if_due(self) -> None:
        now = self._clock.monotonic()
        if now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRY_INTERVAL
        now_ms = self._now_ms()
        for account, region, name, days in self.storage.retained_groups():
            n = self.storage.delete_before(account, region, name, now_ms - days * DAY_MS)
            if n:
                log.info("expired %d events of log group %s (retention %d days)", n, name, days)

    # -- control (CreateLogGroup, PutLogEvents, ...) -------------------------------------

    def create_log_group(self, account: str, region: str, group: str) -> None:
        with self._db_lock:
            self.flush()
            if not self.storage.create_group(account, region, group, self._now_ms()):
                raise ResourceAlreadyExistsException("The specified log group already exists")

    def create_log_stream(self, account: str, region: str, group: str, stream: str) -> None:
        with self._db_lock:
            self.flush()
            queries.existing_group(self.storage, account, region, group)
            if not self.storage.create_stream(account, region, group, stream, self._now_ms()):
                raise ResourceAlreadyExistsException("The specified log stream already exists")

    def delete_log_group(self, account: str, region: str, group: str) -> None:
        with self._db_lock:
            self.flush()
            queries.existing_group(self.storage, account, region, group)
            self.storage.delete_group(account, region, group)

    def delete_log_stream(self, account: str, region: str, group: str, stream: str) -> None:
        with self._db_lock:
            self.flush()
            queries.existing_stream(self.storage, account, region, group, stream)
            self.storage.delete_stream(account, region, group, stream)

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
            queries.existing_group(self.storage, account, region, group)
            self.storage.set_retention(account, region, group, days)
            self._next_expiry = 0.0

    def put_log_events(
        self, account: str, region: str, group: str, stream: str, events: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """PutLogEvents: written before returning, unlike ``put``; existing stream only."""
        with self._db_lock:
            self.flush()
            retention = queries.existing_group(self.storage, account, region, group).retention_days
            queries.existing_stream(self.storage, account, region, group, stream)
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
            accepted: list[LogRecord] = []
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
                    accepted.append(LogRecord(account, region, group, stream, ts, now, message))
            if accepted:
                self.storage.append(accepted, keep=self.retention_events)
            return {"rejectedLogEventsInfo": rejected} if rejected else {}

    # -- queries (observe.log_queries, after a flush) -----------------------------------

    @contextmanager
    def _reading(self) -> Iterator[LogStorage]:
        with self._db_lock:
            self.flush()
            yield self.storage

    @property
    def clock(self) -> Clock:
        return self._clock

    def require_group(self, account: str, region: str, group: str) -> None:
        """ResourceNotFoundException, as CloudWatch words it, unless the group exists."""
        with self._reading() as storage:
            queries.existing_group(storage, account, region, group)

    def events_between(
        self, account: str, region: str, group: str, start: int, end: int, budget: int
    ) -> Iterator[StoredEvent]:
        """A group's events from ``start`` to ``end`` (ms, inclusive), oldest first, at
        most ``budget`` of them, read a chunk at a time (the lock is not held between
        chunks). ResourceNotFoundException: no such group."""
        cursor: tuple[int, int] | None = None
        self.require_group(account, region, group)
        while budget > 0:
            with self._reading() as storage:
                rows = storage.group_events(
                    account, region, group, streams=None, stream_prefix=None, start=start,
                    end=end, after=cursor, forward=True, limit=min(budget, _SCAN_CHUNK),
                )  # fmt: skip
            yield from rows
            budget -= len(rows)
            if len(rows) < _SCAN_CHUNK:
                return
            cursor = (rows[-1].timestamp, rows[-1].id)

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
        with self._reading() as storage:
            return queries.describe_log_groups(
                storage, account, region, prefix, limit, token, pattern
            )

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
        with self._reading() as storage:
            return queries.describe_log_streams(
                storage, account, region, group, prefix, order_by, descending, limit, token
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
        with self._reading() as storage:
            return queries.get_log_events(
                storage, account, region, group, stream, start_time, end_time, start_from_head,
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
        with self._reading() as storage:
            return queries.filter_log_events(
                storage, account, region, group, stream_names, stream_prefix, start_time, end_time,
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
