"""An in-memory ``store.queue.AsyncQueue``, for tests (what dramatiq's ``StubBroker`` is).

It keeps the contract of the SQLite queue (claims, visibility deadlines, counters
changed together with events, ids of deliveries never reused) without durability:
whatever it holds is gone with the process. One lock makes each operation atomic,
as the SQLite queue's savepoints do.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lambdad.store.queue import (
    Claim,
    Delivery,
    FunctionKey,
    FunctionStatistics,
    NewEvent,
    PendingDelivery,
    QueuedEvent,
)
from lambdad.store.queue_shares import Head, shares


@dataclass(slots=True)
class _Lease:
    owner: str | None = None
    until: float = 0.0

    def free_for(self, owner: str, now: float) -> bool:
        return self.owner is None or (self.owner != owner and self.until < now)


@dataclass(slots=True)
class _Stored:
    """One event or delivery, when it is due and who holds it."""

    value: Any  # QueuedEvent or PendingDelivery
    not_before: float
    lease: _Lease


class _State:
    """What several workers of one memory queue share."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: dict[str, _Stored] = {}
        self.deliveries: dict[int, _Stored] = {}
        self.counters: Counter[tuple[FunctionKey, str]] = Counter()
        self.delivery_ids = itertools.count(1)
        self.opened = False


class MemoryAsyncQueue:
    def __init__(self, owner: str | None = None, *, _state: _State | None = None) -> None:
        self.owner = owner or uuid.uuid4().hex
        self._state = _state or _State()
        self._is_view = _state is not None

    def open(self) -> None:
        with self._state.lock:
            self._state.opened = True
            # As on a restart of one node: nobody holds a claim any longer.
            for stored in [*self._state.events.values(), *self._state.deliveries.values()]:
                stored.lease = _Lease()

    def close(self) -> None:
        if not self._is_view:
            self._state.opened = False

    def worker(self, owner: str) -> MemoryAsyncQueue:
        """Another worker sharing this queue (several workers)."""
        return MemoryAsyncQueue(owner, _state=self._state)

    def _check_open(self) -> None:
        if not self._state.opened:
            raise RuntimeError("the async queue is not open")

    # -- events --------------------------------------------------------------------------

    async def put(self, event: NewEvent) -> None:
        with self._state.lock:
            self._check_open()
            self._insert(event)

    async def put_many(self, events: Sequence[NewEvent]) -> None:
        with self._state.lock:
            self._check_open()
            ids = [e.id for e in events]
            if len(set(ids)) != len(ids) or any(i in self._state.events for i in ids):
                raise ValueError("an event of the batch is already queued")
            for event in events:
                self._insert(event)

    def _insert(self, e: NewEvent) -> None:
        if e.id in self._state.events:
            raise ValueError(f"event {e.id} is already queued")
        queued = QueuedEvent(
            e.id, e.account, e.region, e.function_name, e.qualifier, e.payload,
            e.received_at, attempts=0, requeues=0, trace_id=e.trace_id,
        )  # fmt: skip
        self._state.events[e.id] = _Stored(queued, e.received_at, _Lease())
        self._state.counters[(e.key, "received")] += 1

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
        with self._state.lock:
            self._check_open()
            # Oldest due first, then as queued (dicts keep the order of insertion).
            order = {id(s): n for n, s in enumerate(self._state.events.values())}
            queues: dict[FunctionKey, list[_Stored]] = {}
            for stored in sorted(self._state.events.values(), key=lambda s: s.not_before):
                if stored.not_before <= now and stored.lease.free_for(self.owner, now):
                    queues.setdefault(stored.value.key, []).append(stored)
            taken = shares(
                {k: Head(len(q), q[0].not_before) for k, q in queues.items()},
                limit,
                remaining=remaining or {},
                default_remaining=limit if default_remaining is None else default_remaining,
                running=running or {},
            )
            chosen = sorted(
                (s for k, n in taken.items() for s in queues[k][:n]),
                key=lambda s: (s.not_before, order[id(s)]),
            )
            picked: list[QueuedEvent] = []
            for stored in chosen:
                stored.lease = _Lease(self.owner, now + lease_for)
                picked.append(copy.deepcopy(stored.value))
            later = [
                s.not_before
                for s in self._state.events.values()
                if s.lease.owner is None and s.not_before > now
            ]
            return Claim(picked, min(later, default=None))

    def _held(self, event_id: str) -> _Stored | None:
        stored = self._state.events.get(event_id)
        return stored if stored is not None and stored.lease.owner == self.owner else None

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
        with self._state.lock:
            self._check_open()
            stored = self._held(event.id)
            if stored is None:
                return False
            stored.value = replace(
                stored.value,
                attempts=attempts,
                requeues=requeues,
                last_response=copy.deepcopy(last_response),
                last_error=copy.deepcopy(last_error),
            )
            stored.not_before = not_before
            stored.lease = _Lease()
            self._state.counters[(event.key, counter)] += 1
            return True

    async def finish(
        self,
        event: QueuedEvent,
        *,
        counter: str,
        deliveries: Sequence[Delivery] = (),
        follow_ups: Sequence[NewEvent] = (),
        now: float = 0.0,
    ) -> bool:
        with self._state.lock:
            self._check_open()
            if self._held(event.id) is None:
                return False
            if any(e.id in self._state.events and e.id != event.id for e in follow_ups):
                raise ValueError("a follow-up event is already queued")
            del self._state.events[event.id]
            self._state.counters[(event.key, counter)] += 1
            for d in deliveries:
                pending = PendingDelivery(next(self._state.delivery_ids), event.key, d, now, 0)
                self._state.deliveries[pending.id] = _Stored(pending, now, _Lease())
            for e in follow_ups:
                self._insert(e)
            return True

    async def release(self, events: Iterable[QueuedEvent]) -> None:
        with self._state.lock:
            self._check_open()
            for e in events:
                stored = self._held(e.id)
                if stored is not None:
                    stored.lease = _Lease()

    # -- deliveries ------------------------------------------------------------------------

    async def claim_deliveries(
        self, now: float, limit: int, *, lease_for: float
    ) -> tuple[list[PendingDelivery], float | None]:
        with self._state.lock:
            self._check_open()
            due = sorted(
                (
                    s
                    for s in self._state.deliveries.values()
                    if s.not_before <= now and s.lease.free_for(self.owner, now)
                ),
                key=lambda s: s.not_before,
            )[:limit]
            for stored in due:
                stored.lease = _Lease(self.owner, now + lease_for)
            later = [
                s.not_before
                for s in self._state.deliveries.values()
                if s.lease.owner is None and s.not_before > now
            ]
            return [s.value for s in due], min(later, default=None)

    async def delivered(self, pending: PendingDelivery) -> None:
        with self._state.lock:
            self._check_open()
            self._state.deliveries.pop(pending.id, None)

    async def delivery_failed(self, pending: PendingDelivery, not_before: float | None) -> None:
        with self._state.lock:
            self._check_open()
            self._state.counters[(pending.key, "delivery_failures")] += 1
            stored = self._state.deliveries.get(pending.id)
            if not_before is None:
                self._state.deliveries.pop(pending.id, None)
                self._state.counters[(pending.key, "deliveries_dropped")] += 1
            elif stored is not None:
                stored.value = replace(stored.value, attempts=stored.value.attempts + 1)
                stored.not_before = not_before
                stored.lease = _Lease()

    # -- statistics ------------------------------------------------------------------------

    def statistics(self, now: float) -> list[FunctionStatistics]:
        with self._state.lock:
            keys = {key for key, _ in self._state.counters}
            keys |= {s.value.key for s in self._state.events.values()}
            keys |= {s.value.key for s in self._state.deliveries.values()}
            out = []
            for key in sorted(keys):
                events = [s for s in self._state.events.values() if s.value.key == key]
                oldest = min((s.value.received_at for s in events), default=None)
                out.append(
                    FunctionStatistics(
                        account=key[0],
                        region=key[1],
                        function_name=key[2],
                        counters={
                            name: n for (k, name), n in self._state.counters.items() if k == key
                        },
                        queued=len(events),
                        in_flight=sum(s.lease.owner is not None for s in events),
                        oldest_age=None if oldest is None else max(now - oldest, 0.0),
                        deliveries_pending=sum(
                            s.value.key == key for s in self._state.deliveries.values()
                        ),
                    )
                )
            return out
