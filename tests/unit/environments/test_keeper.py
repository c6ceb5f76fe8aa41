"""The keepers' shared sweep and background tasks."""

import asyncio
import logging

import pytest

from lambdad.environments.keeper import Background, sweep_every


def test_the_sweep_reconciles_every_target_and_goes_on_after_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    async def scenario() -> None:
        twice = asyncio.Event()

        async def reconcile(target: str) -> None:
            seen.append(target)
            if len(seen) == 6:
                twice.set()
            if target == "b":
                raise RuntimeError("boom")

        sweep = asyncio.create_task(sweep_every(0, lambda: ["a", "b", "c"], reconcile, str.upper))
        await twice.wait()
        sweep.cancel()

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    assert seen[:6] == ["a", "b", "c", "a", "b", "c"]
    assert "B failed" in caplog.text


def test_background_tasks_are_cancelled() -> None:
    background = Background()

    async def scenario() -> None:
        started = asyncio.Event()

        async def forever() -> None:
            started.set()
            await asyncio.sleep(3600)

        background.spawn(forever())
        await started.wait()
        await background.cancel()

    asyncio.run(scenario())
    assert not background._tasks
