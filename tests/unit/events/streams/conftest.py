"""Records for the stream cores' tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lambdad.events.streams.records import StreamRecord


def make_record(seq: int, key: str = "k", arrival: float = 1000.0, size: int = 100) -> StreamRecord:
    return StreamRecord(str(seq), key, arrival, {"seq": seq}, size)


@pytest.fixture
def rec() -> Callable[..., StreamRecord]:
    return make_record
