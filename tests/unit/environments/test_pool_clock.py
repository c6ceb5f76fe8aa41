"""The warm pool reads time through the clock it is given: its environments get that
clock (their log stream is dated by it, their idle time counted by it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.environments.maker import EnvironmentMaker
from lambdad.environments.pool import EnvironmentPool
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.runtimes.table import Launch

RV = RunnableVersion(Scope("123456789012", "us-east-1"), "fn", "$LATEST", "r1", "ab" * 32)


class FakeRuntimes:
    def launch(self, identifier: str) -> Launch:
        return Launch("python", None, ("python3", "-m", "bootstrap"))


class FakeBackend:
    async def prepare(self, spec: object) -> object:
        raise AssertionError("nothing is started here")


class FakeCode:
    async def ensure(self, sha256_hex: str) -> Path:
        return Path("/code") / sha256_hex


def pool(clock: FakeClock) -> EnvironmentPool:
    def sink(*args: Any) -> None:
        pass

    maker = EnvironmentMaker(
        Settings(),
        backend=FakeBackend(),  # type: ignore[arg-type]
        runtimes=FakeRuntimes(),  # type: ignore[arg-type]
        code=FakeCode(),  # type: ignore[arg-type]
        log_sink=sink,
        clock=clock,
    )
    return EnvironmentPool(Settings(), maker, clock=clock)


def test_a_new_environment_runs_on_the_pools_clock() -> None:
    clock = FakeClock()
    clock.advance(86400 * 40)  # 2026-02-10

    env = asyncio.run(pool(clock).make_environment(RV))

    assert env.config.log_stream.startswith("2026/02/10/[$LATEST]")
    assert env.last_used == clock.monotonic()
