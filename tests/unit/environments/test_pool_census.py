"""The warm pool's census counts without changing anything, a keeper's sweep drops the
idle environments that died, and the reaper stops dead expired ones whatever a
version's floor (a floor is kept by live environments only)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lambdad.clock import FakeClock
from lambdad.environments.environment import State
from lambdad.environments.pool import EnvironmentPool, VersionKey
from lambdad.model.scaling import VersionScaling
from unit.environments.test_pool_clock import pool

KEY: VersionKey = ("123456789012", "us-east-1", "fn", "3", "")


@dataclass(eq=False)
class Env:
    id: str
    alive: bool = True
    retired: bool = False
    expired: bool = False
    state: State = State.READY
    last_used: float = 0.0
    finishing: None = None
    stops: list[str] = field(default_factory=list)

    async def stop(self) -> None:
        self.stops.append(self.id)


def idle(p: EnvironmentPool, *envs: Env) -> None:
    for env in envs:
        p._all[env.id] = env  # type: ignore[assignment]
        p._keys[env.id] = KEY
        p._idle.setdefault(KEY, []).append(env)  # type: ignore[arg-type]


def test_census_counts_only_and_the_sweep_drops_the_dead() -> None:
    async def run() -> None:
        p = pool(FakeClock())
        live, dead = Env("live"), Env("dead", alive=False)
        idle(p, live, dead)
        assert p.census(KEY) == (1, 1)
        assert p._idle[KEY] == [live, dead]  # counting changed nothing
        p.drop_dead_idle(KEY)
        await asyncio.sleep(0)
        assert p._idle[KEY] == [live]
        assert dead.stops == ["dead"]
        assert "dead" not in p._all
        assert p.census(KEY) == (1, 1)

    asyncio.run(run())


def test_the_reaper_stops_a_dead_expired_environment_below_the_floor_once() -> None:
    async def run() -> None:
        clock = FakeClock()
        p = pool(clock)
        p.set_scaling(KEY, VersionScaling(floor=1))
        keeper, dead = Env("keeper"), Env("dead", alive=False)
        idle(p, keeper, dead)
        clock.advance(p.settings.idle_timeout + 1)
        assert await p.reap() == 1
        assert dead.stops == ["dead"]  # once
        assert keeper.stops == []
        assert p._idle[KEY] == [keeper]

    asyncio.run(run())
