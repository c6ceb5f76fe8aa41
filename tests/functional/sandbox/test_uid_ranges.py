"""Sandbox uid ranges are claimed host-wide: two servers never share one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdad.errors import SandboxError
from lambdad.sandbox.uids import UidPool, claim_range


def test_a_second_server_takes_the_next_free_range(tmp_path: Path) -> None:
    first = UidPool.for_host(0x60000000, 65536, tmp_path)
    second = UidPool.for_host(0x60000000, 65536, tmp_path)

    assert first.base == 0x60000000
    assert second.base == 0x60000000 + 65536
    second.close()
    first.close()


def test_a_range_is_free_again_once_its_server_lets_go(tmp_path: Path) -> None:
    first = UidPool.for_host(5000, 10, tmp_path)
    first.close()

    again = UidPool.for_host(5000, 10, tmp_path)
    assert again.base == 5000
    again.close()


def test_no_free_range_is_an_error(tmp_path: Path) -> None:
    base = 0x6FFF0000 - 20
    held = [claim_range(base, 10, tmp_path), claim_range(base, 10, tmp_path)]

    with pytest.raises(SandboxError, match="every sandbox uid range of 10"):
        claim_range(base, 10, tmp_path)
    assert [start for start, _ in held] == [base, base + 10]
    for _, fd in held:
        assert fd is not None
        os.close(fd)
