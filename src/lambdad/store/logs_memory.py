"""An in-memory ``store.logs.LogStorage``, for tests.

It keeps the guarantees written in ``store.logs`` (implicit groups and streams, their
sums, ids never reused, (timestamp, id) order) with plain lists and a lock; reads
sort what they select, which is plenty for the sizes tests use.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from lambdad.store.logs import (
    EventCursor,
    LogGroupInfo,
    LogRecord,
    LogStreamInfo,
    StoredEvent,
    StreamCursor,
    storable,
)

GroupKey = tuple[str, str, str]  # account, region, name


@dataclass(slots=True)
class _Stream:
    info: LogStreamInfo
    events: list[StoredEvent] = field(default_factory=list)


@dataclass(slots=True)
class _Group:
    info: LogGroupInfo
    streams: dict[str, _Stream] = field(default_factory=dict)

    def events(self) -> Iterable[StoredEvent]:
        for s in self.streams.values():
            yield from s.events


class MemoryLogStorage:
    def __init__(self) -> None:
        self.name = "memory"
        self._lock = threading.RLock()
        self._groups: dict[GroupKey, _Group] = {}
        self._ids = itertools.count(1)

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    # -- writing -------------------------------------------------------------------------

    def append(self, records: Sequence[LogRecord], *, keep: int) -> None:
        with self._lock:
            touched: dict[GroupKey, _Group] = {}
            for account, region, group, stream, ts, ingestion, message in records:
                key = (account, region, group)
                g = self._groups.get(key)
                if g is None:
                    g = self._groups[key] = _Group(LogGroupInfo(group, ingestion, None, 0))
                s = g.streams.get(stream)
                if s is None:
                    s = g.streams[stream] = _Stream(
                        LogStreamInfo(stream, ingestion, None, None, None, 0)
                    )
                message, size = storable(message)
                s.events.append(StoredEvent(next(self._ids), ts, ingestion, size, message, stream))
                i = s.info
                s.info = replace(
                    i,
                    first_event=ts if i.first_event is None else min(i.first_event, ts),
                    last_event=ts if i.last_event is None else max(i.last_event, ts),
                    last_ingestion=(
                        ingestion if i.last_ingestion is None else max(i.last_ingestion, ingestion)
                    ),
                    stored_bytes=i.stored_bytes + size,
                )
                g.info = replace(g.info, stored_bytes=g.info.stored_bytes + size)
                touched[key] = g
            for g in touched.values():
                events = sorted(g.events(), key=_order)
                if len(events) > keep:
                    self._delete(g, {e.id for e in events[: len(events) - keep]})

    def _delete(self, g: _Group, ids: set[int]) -> int:
        gone = 0
        for s in g.streams.values():
            kept = [e for e in s.events if e.id not in ids]
            lost = [e for e in s.events if e.id in ids]
            if not lost:
                continue
            s.events = kept
            gone += len(lost)
            size = sum(e.size for e in lost)
            first = min((e.timestamp for e in kept), default=s.info.first_event)
            s.info = replace(s.info, stored_bytes=s.info.stored_bytes - size, first_event=first)
            g.info = replace(g.info, stored_bytes=g.info.stored_bytes - size)
        return gone

    def create_group(self, account: str, region: str, group: str, now_ms: int) -> bool:
        with self._lock:
            if (account, region, group) in self._groups:
                return False
            self._groups[(account, region, group)] = _Group(LogGroupInfo(group, now_ms, None, 0))
            return True

    def create_stream(
        self, account: str, region: str, group: str, stream: str, now_ms: int
    ) -> bool:
        with self._lock:
            g = self._groups.get((account, region, group))
            if g is None or stream in g.streams:
                return False
            g.streams[stream] = _Stream(LogStreamInfo(stream, now_ms, None, None, None, 0))
            return True

    def delete_group(self, account: str, region: str, group: str) -> None:
        with self._lock:
            self._groups.pop((account, region, group), None)

    def delete_stream(self, account: str, region: str, group: str, stream: str) -> None:
        with self._lock:
            g = self._groups.get((account, region, group))
            if g is not None and stream in g.streams:
                self._delete(g, {e.id for e in g.streams[stream].events})
                del g.streams[stream]

    def set_retention(self, account: str, region: str, group: str, days: int | None) -> None:
        with self._lock:
            g = self._groups.get((account, region, group))
            if g is not None:
                g.info = replace(g.info, retention_days=days)

    def retained_groups(self) -> list[tuple[str, str, str, int]]:
        with self._lock:
            return [
                (*key, g.info.retention_days)
                for key, g in self._groups.items()
                if g.info.retention_days is not None
            ]

    def delete_before(self, account: str, region: str, group: str, timestamp: int) -> int:
        with self._lock:
            g = self._groups.get((account, region, group))
            if g is None:
                return 0
            return self._delete(g, {e.id for e in g.events() if e.timestamp < timestamp})

    # -- reading -------------------------------------------------------------------------

    def group(self, account: str, region: str, group: str) -> LogGroupInfo | None:
        with self._lock:
            g = self._groups.get((account, region, group))
            return None if g is None else g.info

    def has_stream(self, account: str, region: str, group: str, stream: str) -> bool:
        with self._lock:
            g = self._groups.get((account, region, group))
            return g is not None and stream in g.streams

    def list_groups(
        self,
        account: str,
        region: str,
        *,
        after: str | None,
        prefix: str | None,
        contains: str | None,
        limit: int,
    ) -> list[LogGroupInfo]:
        with self._lock:
            names = sorted(
                name
                for (a, r, name) in self._groups
                if (a, r) == (account, region)
                and (after is None or name > after)
                and (not prefix or name.startswith(prefix))
                and (not contains or contains in name)
            )
            return [self._groups[(account, region, n)].info for n in names[:limit]]

    def list_streams(
        self,
        account: str,
        region: str,
        group: str,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        after: StreamCursor | None,
        limit: int,
    ) -> list[LogStreamInfo]:
        def key(info: LogStreamInfo) -> StreamCursor:
            return ((info.last_event or 0) if by_last_event else 0, info.name)

        with self._lock:
            g = self._groups.get((account, region, group))
            infos = [] if g is None else [s.info for s in g.streams.values()]
        if prefix:
            infos = [i for i in infos if i.name.startswith(prefix)]
        if after is not None:
            mark = after if by_last_event else (0, after[1])
            infos = [i for i in infos if (key(i) < mark if descending else key(i) > mark)]
        return sorted(infos, key=key, reverse=descending)[:limit]

    def stream_events(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        *,
        start: int,
        end: int,
        after: EventCursor | None,
        forward: bool,
        limit: int,
    ) -> list[StoredEvent]:
        with self._lock:
            g = self._groups.get((account, region, group))
            s = None if g is None else g.streams.get(stream)
            events = [] if s is None else list(s.events)
        return _page(events, start, end, after, forward, limit)

    def group_events(
        self,
        account: str,
        region: str,
        group: str,
        *,
        streams: Sequence[str] | None,
        stream_prefix: str | None,
        start: int,
        end: int,
        after: EventCursor | None,
        forward: bool,
        limit: int,
    ) -> list[StoredEvent]:
        chosen: Callable[[str], bool]
        if streams:
            names = set(streams)
            chosen = names.__contains__
        elif stream_prefix:
            chosen = lambda name: name.startswith(stream_prefix)  # noqa: E731
        else:
            chosen = lambda name: True  # noqa: E731
        with self._lock:
            g = self._groups.get((account, region, group))
            events = [] if g is None else [e for e in g.events() if chosen(e.stream)]
        return _page(events, start, end, after, forward, limit)


def _order(e: StoredEvent) -> EventCursor:
    return (e.timestamp, e.id)


def _page(
    events: list[StoredEvent],
    start: int,
    end: int,
    after: EventCursor | None,
    forward: bool,
    limit: int,
) -> list[StoredEvent]:
    selected = [
        e
        for e in events
        if start <= e.timestamp <= end
        and (after is None or (_order(e) > after if forward else _order(e) < after))
    ]
    return sorted(selected, key=_order, reverse=not forward)[:limit]
