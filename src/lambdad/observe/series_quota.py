"""How many custom metric series a world may have (a tenant cannot fill the disk).

Each distinct (namespace, name, dimensions) a caller writes through PutMetricData or
its functions' embedded metric format is a series that lambdad keeps for months;
``SeriesQuota`` admits a new custom series only while the (account, region) has
fewer than ``limit``. Lambda's own series (``AWS/Lambda``, ``Lambdad``) are never
counted. A world's known series are read from the store once, on its first write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from lambdad.observe.metric_keys import LAMBDA, LAMBDAD, MetricKey

log = logging.getLogger(__name__)

World = tuple[str, str]


def is_custom(key: MetricKey) -> bool:
    return key.namespace not in (LAMBDA, LAMBDAD)


class SeriesQuota:
    def __init__(self, limit: int, load: Callable[[str, str], Iterable[MetricKey]]) -> None:
        """``load(account, region)``: the world's stored series (blocking; called once
        per world, off the event loop where the caller can)."""
        self.limit = limit
        self._load = load
        self._known: dict[World, set[MetricKey]] = {}
        self._warned: set[World] = set()

    def unloaded(self, keys: Iterable[MetricKey]) -> set[World]:
        """The worlds of custom ``keys`` whose series are not read yet."""
        return {(k.account, k.region) for k in keys if is_custom(k)} - self._known.keys()

    def load(self, world: World) -> None:
        if world not in self._known:
            self._known[world] = {k for k in self._load(*world) if is_custom(k)}

    def room(self, keys: Iterable[MetricKey]) -> bool:
        """Whether every one of ``keys`` may be written (none admitted yet)."""
        new: dict[World, set[MetricKey]] = {}
        for k in keys:
            if not is_custom(k):
                continue
            world = (k.account, k.region)
            self.load(world)
            if k not in self._known[world]:
                new.setdefault(world, set()).add(k)
        return all(len(self._known[w]) + len(ks) <= self.limit for w, ks in new.items())

    def admit(self, key: MetricKey) -> bool:
        """Count ``key`` in its world if there is room (always, for Lambda's own)."""
        if not is_custom(key):
            return True
        world = (key.account, key.region)
        self.load(world)
        known = self._known[world]
        if key in known:
            return True
        if len(known) >= self.limit:
            if world not in self._warned:
                self._warned.add(world)
                log.warning(
                    "metrics: account %s in %s has %d custom series; new ones are dropped",
                    key.account, key.region, self.limit,
                )  # fmt: skip
            return False
        known.add(key)
        return True
