"""Batches by BatchSize, batching window and the 6 MB payload limit; lanes by key."""

from __future__ import annotations

from collections.abc import Callable

from lambdad.events.streams.batching import ENVELOPE_BYTES, is_full, take, window_left
from lambdad.events.streams.lanes import lane_of, split
from lambdad.events.streams.records import StreamRecord

Rec = Callable[..., StreamRecord]


def test_take_stops_at_batch_size(rec: Rec) -> None:
    records = [rec(i) for i in range(10)]
    assert take(records, 4) == 4
    assert take(records, 100) == 10
    assert is_full(records, 10)
    assert not is_full(records, 11)


def test_take_stops_before_the_payload_limit(rec: Rec) -> None:
    limit = ENVELOPE_BYTES + 3 * 101
    records = [rec(i, size=100) for i in range(5)]
    assert take(records, 100, max_bytes=limit) == 3
    assert is_full(records, 100, max_bytes=limit)


def test_one_record_always_makes_a_batch(rec: Rec) -> None:
    assert take([rec(1, size=10_000_000)], 100) == 1


def test_batching_window(rec: Rec) -> None:
    assert window_left(None, 5.0, now=100.0) == 5.0
    assert window_left(98.0, 5.0, now=100.0) == 3.0
    assert window_left(90.0, 5.0, now=100.0) == 0.0
    assert window_left(100.0, 0.0, now=100.0) == 0.0


def test_lanes_keep_each_key_in_one_lane_in_order(rec: Rec) -> None:
    records = [rec(i, key=f"key-{i % 7}") for i in range(200)]
    lanes = split(records, 4)
    assert 1 < len(lanes) <= 4
    seen: dict[str, int] = {}
    for index, lane in enumerate(lanes):
        assert [r.seq for r in lane] == sorted(r.seq for r in lane)
        for r in lane:
            assert seen.setdefault(r.key, index) == index
    assert sorted(r.seq for lane in lanes for r in lane) == list(range(200))


def test_factor_one_is_one_lane(rec: Rec) -> None:
    records = [rec(i, key=str(i)) for i in range(20)]
    assert split(records, 1) == [records]
    assert lane_of("anything", 1) == 0
    assert lane_of("abc", 10) == lane_of("abc", 10)
