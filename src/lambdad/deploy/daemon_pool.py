"""Blocking work run on daemon threads, at most so many at once, awaited from the event
loop. Unlike a ThreadPoolExecutor's workers (joined when the interpreter exits), these
never hold up the server's exit: a deployment cut short by a stop is recorded as far as
it went, and the next start marks its stack failed (``StackService.recover``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonPool:
    def __init__(self, workers: int, name: str) -> None:
        self._slots = asyncio.Semaphore(workers)  # bound to the loop at first use
        self._name = name

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()

            def settle(result: Any, error: BaseException | None) -> None:
                if future.cancelled():
                    return
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)

            def work() -> None:
                try:
                    result, error = fn(*args), None
                except BaseException as exc:
                    result, error = None, exc
                loop.call_soon_threadsafe(settle, result, error)

            threading.Thread(target=work, name=self._name, daemon=True).start()
            return await future
