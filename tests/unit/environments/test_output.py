"""The runtime's output as log lines: bytes split into lines however they arrive, a line
too long to hold cut instead of buffered without bound, each line sent to the log sink
with the clock's time, and the invocation's tail kept in bounded memory."""

from __future__ import annotations

from lambdad.clock import FakeClock
from lambdad.environments.output import (
    MAX_LINE_BYTES,
    TAIL_BYTES,
    LineSplitter,
    LogDestination,
    LogWriter,
    TailRing,
)

# -- LineSplitter ------------------------------------------------------------------------


def test_whole_lines_in_one_chunk() -> None:
    s = LineSplitter()
    assert s.feed(b"one\ntwo\n") == ["one", "two"]
    assert s.flush() is None


def test_a_line_split_across_chunks_comes_out_once_whole() -> None:
    s = LineSplitter()
    assert s.feed(b"hel") == []
    assert s.feed(b"lo wo") == []
    assert s.feed(b"rld\nnext") == ["hello world"]
    assert s.flush() == "next"
    assert s.flush() is None


def test_empty_lines_are_lines() -> None:
    assert LineSplitter().feed(b"\n\na\n") == ["", "", "a"]


def test_a_character_split_across_chunks_is_decoded_whole() -> None:
    s = LineSplitter()
    euro = "€".encode()
    assert s.feed(euro[:1]) == []
    assert s.feed(euro[1:] + b"\n") == ["€"]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert LineSplitter().feed(b"bad \xff byte\n") == ["bad \ufffd byte"]


def test_a_line_as_long_as_the_limit_is_still_held() -> None:
    s = LineSplitter()
    assert s.feed(b"x" * MAX_LINE_BYTES) == []
    assert s.flush() == "x" * MAX_LINE_BYTES


def test_a_line_past_the_limit_is_emitted_instead_of_buffered() -> None:
    s = LineSplitter()
    assert s.feed(b"x" * (MAX_LINE_BYTES - 10)) == []
    out = s.feed(b"y" * 20)
    assert out == ["x" * (MAX_LINE_BYTES - 10) + "y" * 20]
    assert s.flush() is None
    assert s.feed(b"after\n") == ["after"]


def test_a_huge_line_written_in_pieces_never_holds_more_than_the_limit() -> None:
    s = LineSplitter()
    pieces = [s.feed(b"z" * 65536) for _ in range(20)]  # 1.25 MB, no newline
    emitted = [line for piece in pieces for line in piece]
    rest = s.flush() or ""
    assert all(len(line) <= MAX_LINE_BYTES + 65536 for line in emitted)
    assert sum(map(len, emitted)) + len(rest) == 20 * 65536
    assert len(emitted) >= 3


# -- TailRing ----------------------------------------------------------------------------


def test_tail_is_the_last_4_kb() -> None:
    ring = TailRing()
    for i in range(1000):
        ring.append(f"line {i:04d}\n".encode())
    tail = ring.tail()
    assert len(tail) == TAIL_BYTES
    assert tail.endswith(b"line 0999\n")


def test_a_short_log_is_all_there() -> None:
    ring = TailRing()
    ring.append(b"START\n")
    ring.append(b"END\n")
    assert ring.tail() == b"START\nEND\n"


def test_the_ring_holds_at_most_twice_the_tail() -> None:
    ring = TailRing()
    for _ in range(10_000):
        ring.append(b"x" * 100 + b"\n")
        assert ring.held_bytes() <= 2 * TAIL_BYTES


def test_one_entry_larger_than_the_ring_is_kept_and_cut_to_the_tail() -> None:
    ring = TailRing()
    ring.append(b"small\n")
    big = bytes(range(256)) * 100
    ring.append(big)
    assert ring.held_bytes() == len(big)
    assert ring.tail() == big[-TAIL_BYTES:]


def test_clear_forgets_the_previous_invocation() -> None:
    ring = TailRing()
    ring.append(b"old\n")
    ring.clear()
    assert ring.tail() == b""
    assert ring.held_bytes() == 0


# -- LogWriter ---------------------------------------------------------------------------


def test_each_message_goes_to_the_sink_with_the_clock_time_and_to_the_tail() -> None:
    events: list[tuple[str, str, str, str, int, str]] = []
    clock = FakeClock()
    to = LogDestination("000000000000", "eu-west-1", "/aws/lambda/f", "2026/01/01/[1]abc")
    writer = LogWriter(lambda *event: events.append(event), to, clock)
    writer.emit("first")
    clock.advance(1.5)
    writer.emit("second")
    start = clock.now_ms() - 1500
    assert events == [
        ("000000000000", "eu-west-1", "/aws/lambda/f", "2026/01/01/[1]abc", start, "first"),
        ("000000000000", "eu-west-1", "/aws/lambda/f", "2026/01/01/[1]abc", start + 1500, "second"),
    ]
    assert writer.tail.tail() == b"first\nsecond\n"
