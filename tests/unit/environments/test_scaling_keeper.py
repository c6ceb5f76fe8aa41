"""The function scaling keeper: it tells the pool a version's floor and cap, starts
environments up to the floor, stops idle ones above the cap, does not start again after
a failed init until something changes, waits for a version to be active, and forgets a
version that is gone."""

from __future__ import annotations

import asyncio
from typing import Any

from lambdad.config import Settings
from lambdad.environments.pool import VersionKey
from lambdad.environments.scaling import ScalingKeeper
from lambdad.errors import ResourceNotFoundException
from lambdad.model.changes import ChangeHub
from lambdad.model.scaling import VersionScaling
from lambdad.model.scope import Scope
from lambdad.model.version import PENDING, RunnableVersion

SCOPE = Scope("123456789012", "us-east-1")
KEY: VersionKey = (SCOPE.account, SCOPE.region, "fn", "3", "")


class FakePool:
    def __init__(self, *, live: int = 0, idle: int = 0, init_fails: bool = False) -> None:
        self.live, self.idle = live, idle
        self.init_fails = init_fails
        self.scaling: dict[VersionKey, VersionScaling] = {}
        self.started = self.stopped = 0

    def set_scaling(self, key: VersionKey, wanted: VersionScaling | None) -> None:
        if wanted is None:
            self.scaling.pop(key, None)
        else:
            self.scaling[key] = wanted

    def census(self, key: VersionKey) -> tuple[int, int]:
        return self.live, self.idle

    def drop_dead_idle(self, key: VersionKey) -> None:
        pass  # this pool's environments never die idle

    async def prewarm(self, rv: RunnableVersion) -> bool:
        assert (rv.name, rv.version) == ("fn", "3")
        if self.init_fails:
            return False
        self.started += 1
        self.live += 1
        self.idle += 1
        return True

    async def trim(self, key: VersionKey, count: int) -> None:
        self.stopped += count
        self.live -= count
        self.idle -= count


class Versions:
    def __init__(self) -> None:
        self.state = "Active"
        self.gone = False

    def __call__(self, scope: Scope, name: str, version: str) -> RunnableVersion:
        if self.gone:
            raise ResourceNotFoundException("Function not found")
        return RunnableVersion(scope, name, version, "r", "ab" * 32, state=self.state)


def keeper(pool: FakePool, versions: Versions, changes: ChangeHub | None = None) -> Any:
    return ScalingKeeper(pool, versions, Settings(), changes)  # type: ignore[arg-type]


def test_a_put_keeps_the_floor_and_tells_the_pool_the_cap() -> None:
    pool, changes = FakePool(), ChangeHub()
    keep = keeper(pool, Versions(), changes)
    changes.scaling_changed(SCOPE, "fn", "3", VersionScaling(floor=2, cap=4))
    asyncio.run(keep.reconcile(KEY))
    assert pool.scaling == {KEY: VersionScaling(floor=2, cap=4)}
    assert (pool.started, pool.live) == (2, 2)
    asyncio.run(keep.reconcile(KEY))  # nothing missing: nothing more
    assert pool.started == 2


def test_one_that_died_is_replaced() -> None:
    pool = FakePool()
    keep = keeper(pool, Versions())
    keep.configure(SCOPE, "fn", "3", VersionScaling(floor=1))
    asyncio.run(keep.reconcile(KEY))
    pool.live = pool.idle = 0  # the pool found it dead
    asyncio.run(keep.reconcile(KEY))
    assert (pool.started, pool.live) == (2, 1)


def test_a_lower_max_stops_idle_environments() -> None:
    pool = FakePool(live=4, idle=3)
    keep = keeper(pool, Versions())
    keep.configure(SCOPE, "fn", "3", VersionScaling(floor=1, cap=2))
    asyncio.run(keep.reconcile(KEY))
    assert (pool.stopped, pool.started, pool.live) == (2, 0, 2)


def test_a_failed_init_waits_for_a_change() -> None:
    pool, changes = FakePool(init_fails=True), ChangeHub()
    keep = keeper(pool, Versions(), changes)
    changes.scaling_changed(SCOPE, "fn", "3", VersionScaling(floor=1))
    asyncio.run(keep.reconcile(KEY))
    pool.init_fails = False
    asyncio.run(keep.reconcile(KEY))
    assert pool.started == 0
    changes.function_changed(SCOPE, "fn", "3")  # new code, a new try
    asyncio.run(keep.reconcile(KEY))
    assert pool.started == 1


def test_a_pending_version_is_started_once_active() -> None:
    pool, versions = FakePool(), Versions()
    versions.state = PENDING
    keep = keeper(pool, versions)
    keep.configure(SCOPE, "fn", "3", VersionScaling(floor=1))
    asyncio.run(keep.reconcile(KEY))
    assert pool.started == 0
    versions.state = "Active"
    asyncio.run(keep.reconcile(KEY))
    assert pool.started == 1


def test_a_version_that_is_gone_takes_its_scaling_along() -> None:
    pool, versions = FakePool(), Versions()
    keep = keeper(pool, versions)
    keep.configure(SCOPE, "fn", "3", VersionScaling(floor=1, cap=1))
    versions.gone = True
    asyncio.run(keep.reconcile(KEY))
    assert pool.scaling == {}
    assert keep.statistics() == {"versions": 0}


def test_an_empty_configuration_is_none() -> None:
    pool = FakePool()
    keep = keeper(pool, Versions())
    keep.configure(SCOPE, "fn", "3", VersionScaling(floor=1, cap=2))
    keep.configure(SCOPE, "fn", "3", VersionScaling())
    assert pool.scaling == {}
    assert keep.statistics() == {"versions": 0}
