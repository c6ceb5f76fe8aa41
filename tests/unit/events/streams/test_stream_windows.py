"""Tumbling windows: bounds, closing, state limits, the event shape."""

from __future__ import annotations

from collections.abc import Callable

from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.windows import (
    Window,
    bounds,
    is_over,
    open_for,
    same_window,
    state_too_big,
    window_event,
)

Rec = Callable[..., StreamRecord]


def test_bounds_align_on_the_window_size() -> None:
    assert bounds(1607497475.0, 120) == (1607497440.0, 1607497560.0)
    assert bounds(120.0, 120) == (120.0, 240.0)


def test_records_of_a_later_window_close_the_current_one(rec: Rec) -> None:
    window = open_for(rec(1, arrival=130.0), 60, now=130.0)
    pending = [rec(2, arrival=150.0), rec(3, arrival=179.9), rec(4, arrival=180.0)]
    assert (window.start, window.end) == (120.0, 180.0)
    assert same_window(pending, window) == 2
    assert not is_over(window, pending, now=181.0, grace=2.0)
    assert is_over(window, pending[2:], now=181.0, grace=2.0)


def test_an_idle_window_closes_after_its_end_and_the_grace() -> None:
    window = Window(120.0, 180.0, last_read_at=170.0)
    assert not is_over(window, [], now=179.0, grace=2.0)
    assert is_over(window, [], now=180.0, grace=2.0)
    assert not is_over(Window(120.0, 180.0, last_read_at=179.5), [], now=180.0, grace=2.0)


def test_state_over_one_megabyte_ends_the_window_early() -> None:
    assert not state_too_big({"a": "x" * 1000})
    assert state_too_big({"a": "x" * (1024 * 1024)})


def test_window_event_shape(rec: Rec) -> None:
    window = Window(1607497440.0, 1607497560.0, state={"1": 282, "2": 715})
    event = window_event(
        [rec(1)], window, shard_id="shardId-000000000006", source_arn="arn:s", final=False
    )
    assert event == {
        "Records": [{"seq": 1}],
        "window": {"start": "2020-12-09T07:04:00Z", "end": "2020-12-09T07:06:00Z"},
        "state": {"1": 282, "2": 715},
        "shardId": "shardId-000000000006",
        "eventSourceARN": "arn:s",
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }
