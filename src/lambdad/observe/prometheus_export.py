"""``/metrics``: the Prometheus text exposition of every function's running totals.

What is written and how is ``prometheus_text``'s; this keeps it up to date cheaply.
Each function's lines are written once per change: a function whose totals did not
move since the last scrape answers with the lines it had then, and a function's line
prefixes (names and labels) are written once, when it is first seen. A scrape of a
thousand mostly idle functions costs a join; of a thousand that all moved, one
formatting of their values. Events not yet folded (``MetricsService.unfolded``) are
counted by a pass over them (``metrics_fold.totals_of``), not by the fold: a scrape
never waits for the CloudWatch points of what happened since the last flush.
"""

from __future__ import annotations

import asyncio
from itertools import chain

from lambdad.observe.metrics_fold import totals_of
from lambdad.observe.metrics_service import MetricsService, Offload
from lambdad.observe.prometheus_text import HEADERS, Counts, Labels, Lines, Prefixes

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Every function, in order, with its signature and a copy of its totals if they moved.
Snapshot = list[tuple[Labels, tuple[int, int], Counts | None]]


class PrometheusExport:
    """``scrape`` takes a snapshot of what changed on the event loop and writes the
    text on a worker thread (``offload``), so that a first scrape of a thousand
    functions never holds the loop; scrapes are serialised (the caches are the writer's)."""

    def __init__(self, metrics: MetricsService, offload: Offload | None = None) -> None:
        self.metrics = metrics
        self._offload = offload
        self._prefixes: dict[Labels, Prefixes] = {}
        # Every function seen, in exposition order (sorted again when one is new).
        self._known: set[Labels] = set()
        self._order: list[Labels] = []
        # labels -> (the totals' signature when written, its lines per family)
        self._cache: dict[Labels, tuple[tuple[int, int], list[bytes]]] = {}
        self._scraping = asyncio.Lock()

    async def scrape(self) -> bytes:
        async with self._scraping:
            snapshot = self._snapshot()
            if self._offload is None:
                return self._write(snapshot)
            body: bytes = await self._offload(self._write, snapshot)
            return body

    def render(self) -> bytes:
        """``scrape``, here and now."""
        return self._write(self._snapshot())

    def _snapshot(self) -> Snapshot:
        """Every function, in order, with a copy of its totals if they moved since they
        were last written (every change moves the invocations or the throttles): the
        folded totals and the events not folded yet (``totals_of`` them), so that a
        scrape counts every invocation before it without waiting for a fold."""
        totals = self.metrics.totals
        extra = totals_of(self.metrics.unfolded())
        if not (totals.keys() <= self._known and extra.keys() <= self._known):
            self._known = set(totals) | set(extra)
            self._order = sorted(self._known)
        out: Snapshot = []
        cache = self._cache
        for labels in self._order:
            t = totals.get(labels)
            more = extra.get(labels)
            if more is not None:
                if t is not None:
                    more.merge(t)
                t = more
            if t is None:
                continue
            signature = (t.invocations, t.throttles)
            known = cache.get(labels)
            changed = known is None or known[0] != signature
            out.append((labels, signature, Counts.of(t) if changed else None))
        return out

    def _write(self, snapshot: Snapshot) -> bytes:
        new = [labels for labels, _, _ in snapshot if labels not in self._prefixes]
        if new:
            self._prefixes.update(zip(new, Prefixes.of_all(new), strict=True))
        lines = Lines()
        parts: list[list[bytes]] = [[h] for h in HEADERS]
        counters, errors, throttles, cold, hist = parts
        for labels, signature, counts in snapshot:
            if counts is not None:
                blocks = lines.blocks(self._prefixes[labels], counts)
                self._cache[labels] = (signature, blocks)
            else:
                blocks = self._cache[labels][1]
            counters.append(blocks[0])
            errors.append(blocks[1])
            throttles.append(blocks[2])
            cold.append(blocks[3])
            hist.append(blocks[4])
        # One join into the body (a large buffer is costly to fault in: one, not two).
        return b"".join(chain.from_iterable(parts))
