"""What the keepers of ready environments share (provisioned.py keeps provisioned
concurrency, scaling.py a version's floor of environments): their background tasks on
the loop they serve from, and the periodic sweep that reconciles every target again
(which restores environments that crashed or were stopped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def on_loop(loop: asyncio.AbstractEventLoop | None, fn: Callable[..., None], *args: Any) -> None:
    """Call ``fn(*args)`` on ``loop``: at once when already on it (or when there is no
    loop yet), else handed to it from this other thread (function updates run in
    worker threads)."""
    if loop is None or running_loop() is loop:
        fn(*args)
    else:
        loop.call_soon_threadsafe(fn, *args)


class Background:
    """A keeper's tasks: kept referenced while they run, cancelled at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def sweep_every(
    interval: float,
    targets: Callable[[], Iterable[K]],
    reconcile: Callable[[K], Awaitable[None]],
    what: Callable[[K], str],
) -> None:
    """Reconcile each of ``targets()`` every ``interval`` seconds, for ever; a failure
    is logged (``what`` names the target) and the sweep goes on."""
    while True:
        await asyncio.sleep(interval)
        for target in list(targets()):
            try:
                await reconcile(target)
            except Exception:
                log.exception("%s failed", what(target))
