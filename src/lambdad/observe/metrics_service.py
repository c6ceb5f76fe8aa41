"""The metrics of every world: recorded in memory, flushed to the store, read back.

Between flushes a point lives in memory (``_dirty``: this minute's statistics of each
series touched since the last flush); ``flush`` folds what the recorder holds, takes
the dirty points and usage on the event loop, and writes them (merged into what is
stored) off it. Every read flushes first, so a query sees every invocation made before
it. Downsampling runs with a flush, at most once per ``compact_every`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from lambdad.model.scope import Scope
from lambdad.observe.metric_keys import MetricKey
from lambdad.observe.metric_stats import Stats
from lambdad.observe.metrics_fold import (
    Folded,
    FunctionTotals,
    UsageKey,
    fold,
    minute_of,
    month_of,
)
from lambdad.observe.metrics_recorder import MetricsRecorder, Pending
from lambdad.observe.metrics_retention import Retention, aligned, bucket_of
from lambdad.observe.series_quota import SeriesQuota
from lambdad.store.metrics_sqlite import HistoryRow, SqliteMetricStorage

log = logging.getLogger(__name__)
T = TypeVar("T")
Offload = Callable[..., Awaitable[Any]]
# (scope, function, version, architecture, memory MB, storage MB, provisioned count)
Allocation = tuple[Scope, str, str, str, int, int, int]
# ListMetrics lists the series with a point in the last two weeks, as CloudWatch does.
LIST_WINDOW = 14 * 86400


def merge_docs(docs: Sequence[str]) -> str:
    out = Stats()
    for d in docs:
        out.merge(Stats.from_doc(json.loads(d)))
    return json.dumps(out.to_doc(), separators=(",", ":"))


async def _inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


class MetricsService:
    def __init__(
        self,
        storage: SqliteMetricStorage,
        recorder: MetricsRecorder,
        *,
        retention: Retention | None = None,
        offload: Offload = _inline,
        now: Callable[[], float] = time.time,
        compact_every: float = 3600.0,
        max_custom_series: int = 10_000,
    ) -> None:
        self.storage = storage
        self.recorder = recorder
        self.retention = retention or Retention()
        self._offload = offload
        self._now = now
        self._compact_every = compact_every
        self._last_compact = -math.inf
        self._dirty: dict[tuple[MetricKey, int], Stats] = {}
        self._usage: dict[UsageKey, list[int]] = {}
        self._units: dict[MetricKey, str] = {}  # given since the last flush
        # Running totals per (account, region, function), for Prometheus.
        self.totals: dict[tuple[str, str, str], FunctionTotals] = {}
        self._folding: list[Pending] = []  # drained, their fold not yet merged
        self._flushing = asyncio.Lock()
        self._refreshing: set[asyncio.Task[None]] = set()
        self.quota = SeriesQuota(max_custom_series, self._stored_series)

    # -- in memory -----------------------------------------------------------------------

    def fold_pending(self) -> None:
        """Fold what the recorder holds into the dirty points, here and now."""
        self._merge(fold(self.recorder.drain()))

    def refresh_soon(self) -> None:
        """A refresh started now, not waited for (the recorder's high water: pending
        events are kept few, so that holding them costs the collector little)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: a caller of its own
            self.fold_pending()
            return
        task = loop.create_task(self.refresh())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def refresh(self) -> None:
        """``fold_pending`` with the fold itself off the event loop (a thousand busy
        functions take a fold of tens of milliseconds); the merge stays on it."""
        pending = self.recorder.drain()
        if len(pending):
            self._folding.append(pending)
            try:
                folded: Folded = await self._offload(fold, pending)
                for world in self.quota.unloaded(k for k, _ in folded.points):
                    await self._offload(self.quota.load, world)
                self._merge(folded)
            finally:  # in the step that merged it: never in both, never in neither
                self._folding = [p for p in self._folding if p is not pending]

    def unfolded(self) -> list[Pending]:
        """The events ``totals`` does not count yet: drained and being folded, or still
        the recorder's (read on the event loop, at once)."""
        return [*self._folding, self.recorder.peek()]

    def _merge(self, folded: Folded) -> None:
        admit = self.quota.admit
        for k, s in folded.points.items():
            if not admit(k[0]):
                continue
            old = self._dirty.get(k)
            if old is None:
                self._dirty[k] = s
            else:
                old.merge(s)
        for uk, adds in folded.usage.items():
            self._add_usage(uk, adds)
        self._units.update(folded.units)
        for fk, t in folded.totals.items():
            self.totals.setdefault(fk, FunctionTotals()).merge(t)

    def _add_usage(self, key: UsageKey, adds: list[int]) -> None:
        acc = self._usage.setdefault(key, [0, 0, 0, 0])
        for i, n in enumerate(adds):
            acc[i] += n

    def provisioned_allocated(self, allocations: list[Allocation], elapsed_s: float) -> None:
        """Provisioned concurrency held for ``elapsed_s`` seconds (billed per GB-second
        allocated, whether it runs or not)."""
        month = month_of(self._now())
        for scope, name, version, arch, memory_mb, storage_mb, count in allocations:
            key = UsageKey(
                scope.account, scope.region, name, version, arch, memory_mb, storage_mb, month
            )
            self._add_usage(key, [0, 0, 0, int(count * memory_mb * elapsed_s * 1000)])

    async def run_provisioned_accrual(
        self, allocations: Callable[[], list[Allocation]], interval: float
    ) -> None:
        """Every ``interval`` seconds, the provisioned concurrency configured since."""
        last = self._now()
        while True:
            await asyncio.sleep(interval)
            now = self._now()
            try:
                held = await self._offload(allocations)
                self.provisioned_allocated(held, now - last)
            except Exception:
                log.exception("metrics: provisioned concurrency not accounted")
            last = now

    def put(self, key: MetricKey, at: float, stats: Stats, unit: str | None = None) -> None:
        """Values of a series (PutMetricData, embedded metric format) at ``at``, in
        ``unit`` if one is given."""
        if not self.quota.admit(key):
            return
        if unit:
            self._units[key] = unit
        k = (key, minute_of(at))
        old = self._dirty.get(k)
        if old is None:
            self._dirty[k] = stats
        else:
            old.merge(stats)

    # -- the store -----------------------------------------------------------------------

    async def flush(self) -> None:
        async with self._flushing:
            if self._refreshing:  # what they drained is merged before anything is read
                await asyncio.gather(*self._refreshing, return_exceptions=True)
            await self.refresh()
            points, self._dirty = self._dirty, {}
            usage, self._usage = self._usage, {}
            units, self._units = self._units, {}
            now = self._now()
            compact = now - self._last_compact >= self._compact_every
            if compact:
                self._last_compact = now
            if units:
                await self._offload(self.storage.set_units, {tuple(k): u for k, u in units.items()})
            if points or usage or compact:
                await self._offload(self._write, points, usage, now if compact else None)

    def _write(
        self,
        points: dict[tuple[MetricKey, int], Stats],
        usage: dict[UsageKey, list[int]],
        compact_at: float | None,
    ) -> None:
        if points:
            docs = {
                (tuple(k), 60, ts): json.dumps(s.to_doc(), separators=(",", ":"))
                for (k, ts), s in points.items()
            }
            self.storage.merge_points(docs, merge_docs)  # type: ignore[arg-type]
        if usage:
            self.storage.add_usage({tuple(k): v for k, v in usage.items()})
        if compact_at is not None:
            for tier in self.retention.tiers():
                gone = self.storage.coarsen(
                    tier.period, int(compact_at) - tier.keep, tier.coarser, merge_docs
                )
                if gone:
                    log.info("metrics: %d points of %ds past their age", gone, tier.period)

    async def run_flusher(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:
                log.exception("metrics: flush failed")

    # -- reads ---------------------------------------------------------------------------

    async def datapoints(
        self, keys: Iterable[MetricKey], start: float, end: float, period: int
    ) -> dict[MetricKey, dict[int, Stats]]:
        """Per series, its statistics per period in [start, end) (aligned to periods)."""
        await self.flush()
        lo, hi = aligned(start, end, period)
        wanted = list(keys)
        rows = await self._offload(self.storage.points, [tuple(k) for k in wanted], lo, hi)
        out: dict[MetricKey, dict[int, Stats]] = {k: {} for k in wanted}
        for series, _period, ts, doc in rows:
            per = out[MetricKey(*series)]
            b = bucket_of(ts, lo, period)
            acc = per.get(b)
            if acc is None:
                acc = per[b] = Stats()
            acc.merge(Stats.from_doc(json.loads(doc)))
        return out

    async def unit(self, key: MetricKey) -> str | None:
        """The unit the series was last given, if any."""
        given = self._units.get(key)
        if given is not None:
            return given
        unit: str | None = await self._offload(self.storage.unit, tuple(key))
        return unit

    async def series(self, scope: Scope, within: int = LIST_WINDOW) -> list[MetricKey]:
        """The world's series with a point in the last ``within`` seconds."""
        await self.flush()
        since = int(self._now()) - within
        rows = await self._offload(self.storage.series, scope.account, scope.region, since)
        return [MetricKey(*r) for r in rows]

    async def usage(self, scope: Scope, month: str) -> list[tuple[Any, ...]]:
        await self.flush()
        rows: list[tuple[Any, ...]] = await self._offload(
            self.storage.usage, scope.account, scope.region, month
        )
        return rows

    # -- alarms (kept beside the metrics they watch) ---------------------------------------

    async def alarms(self, scope: Scope) -> list[str]:
        docs: list[str] = await self._offload(self.storage.alarms, scope.account, scope.region)
        return docs

    def _stored_series(self, account: str, region: str) -> list[MetricKey]:
        return [MetricKey(*r) for r in self.storage.series(account, region, 0)]

    async def room_for(self, keys: list[MetricKey]) -> bool:
        """Whether the custom series among ``keys`` fit their worlds' quota (``put``
        admits them)."""
        for world in self.quota.unloaded(keys):
            await self._offload(self.quota.load, world)
        return self.quota.room(keys)

    async def alarm_worlds(self) -> list[tuple[str, str]]:
        worlds: list[tuple[str, str]] = await self._offload(self.storage.alarm_worlds)
        return worlds

    async def put_alarm(self, scope: Scope, name: str, doc: str) -> None:
        await self._offload(self.storage.put_alarm, scope.account, scope.region, name, doc)

    async def delete_alarms(self, scope: Scope, names: list[str]) -> None:
        await self._offload(self.storage.delete_alarms, scope.account, scope.region, names)

    async def alarm(self, scope: Scope, name: str) -> str | None:
        doc: str | None = await self._offload(self.storage.alarm, scope.account, scope.region, name)
        return doc

    async def add_alarm_history(
        self, scope: Scope, items: list[HistoryRow], older_than: float
    ) -> None:
        await self._offload(
            self.storage.add_alarm_history, scope.account, scope.region, items, older_than
        )

    async def alarm_history(self, scope: Scope, start: float, end: float) -> list[HistoryRow]:
        rows: list[HistoryRow] = await self._offload(
            self.storage.alarm_history, scope.account, scope.region, start, end
        )
        return rows
