"""Sandbox uids: one per environment, round-robin through the range."""

from __future__ import annotations

import pytest

from lambdad.errors import SandboxError
from lambdad.sandbox.uids import UidPool


def test_each_environment_gets_its_own_uid() -> None:
    pool = UidPool(5000, 3)

    assert [pool.acquire() for _ in range(3)] == [5000, 5001, 5002]
    with pytest.raises(SandboxError, match="all 3 sandbox uids are in use"):
        pool.acquire()


def test_a_released_uid_comes_back_only_after_the_others() -> None:
    pool = UidPool(5000, 4)
    first = pool.acquire()
    pool.release(first)

    assert [pool.acquire() for _ in range(4)] == [5001, 5002, 5003, 5000]
    assert pool.in_use() == 4


def test_uids_in_use_are_skipped() -> None:
    pool = UidPool(5000, 3)
    held = pool.acquire()  # 5000, held throughout
    for uid in (pool.acquire(), pool.acquire()):
        pool.release(uid)

    assert pool.acquire() == 5001  # wrapped around, past 5000
    assert held == 5000


@pytest.mark.parametrize(("base", "count"), [(0, 10), (100, 0), (2**31 - 5, 10)])
def test_bad_ranges_are_refused(base: int, count: int) -> None:
    with pytest.raises(ValueError, match="bad sandbox uid range"):
        UidPool(base, count)
