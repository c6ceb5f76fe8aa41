"""The daemon pool: results and errors come back to the loop, at most N run at once,
and its threads are daemons (they never hold up the server's exit)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lambdad.deploy.daemon_pool import DaemonPool


def test_results_errors_and_the_bound() -> None:
    running, most = [0], [0]
    lock = threading.Lock()
    daemons: list[bool] = []
    # Jobs meet in pairs: two must run at once for any to finish.
    pair = threading.Barrier(2)

    def job(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            daemons.append(threading.current_thread().daemon)
        pair.wait(timeout=10)
        with lock:
            running[0] -= 1
        if i == 3:
            raise ValueError("three")
        return i * 2

    async def main() -> list[object]:
        pool = DaemonPool(2, "test")
        return await asyncio.gather(*(pool.run(job, i) for i in range(6)), return_exceptions=True)

    results = asyncio.run(main())
    assert results[:3] == [0, 2, 4]
    assert isinstance(results[3], ValueError)
    assert results[4:] == [8, 10]
    assert most[0] == 2
    assert all(daemons)


def test_a_job_error_is_raised_to_the_awaiter() -> None:
    async def main() -> None:
        await DaemonPool(1, "test").run(lambda: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        asyncio.run(main())
