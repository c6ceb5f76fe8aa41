"""The runtime's output pipe read into lines (a real pipe, no sandbox): a drain logs
everything already written, the unfinished line included; a watched pipe is read as
data arrives and its last line is logged when the writer goes away."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import pytest

from lambdad.environments.output import PipeReader


class Source:
    """What a sandbox offers the reader: the read end of its output pipe."""

    def __init__(self, fd: int) -> None:
        self.output_fd = fd


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    for fd in (r, w):
        with contextlib.suppress(OSError):  # the test closed it already
            os.close(fd)


def test_drain_logs_what_is_written_including_the_unfinished_line(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    lines: list[str] = []
    reader = PipeReader(Source(r), lines.append)
    os.write(w, b"one\ntwo\nthr")
    reader.drain()
    assert lines == ["one", "two", "thr"]
    os.write(w, b"ee\n")
    reader.drain()
    assert lines == ["one", "two", "thr", "ee"]


def test_drain_reads_more_than_one_read_holds(pipe: tuple[int, int]) -> None:
    r, w = pipe
    lines: list[str] = []
    reader = PipeReader(Source(r), lines.append)
    os.write(w, b"".join(b"%05d\n" % i for i in range(10_000)))  # 60 KB: a few reads
    reader.drain()
    assert lines == [f"{i:05d}" for i in range(10_000)]


def test_no_pipe_nothing_read() -> None:
    lines: list[str] = []
    PipeReader(Source(-1), lines.append).drain()
    assert lines == []


def test_a_watched_pipe_is_read_as_it_comes_and_its_last_line_kept_at_eof(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    lines: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        arrived: asyncio.Queue[str] = asyncio.Queue()

        def emit(line: str) -> None:
            lines.append(line)
            arrived.put_nowait(line)

        PipeReader(Source(r), emit).watch(loop)
        os.write(w, b"hello\n")
        assert await asyncio.wait_for(arrived.get(), 5) == "hello"
        os.write(w, b"no newline at the end")
        os.close(w)
        assert await asyncio.wait_for(arrived.get(), 5) == "no newline at the end"
        # The reader stopped watching at end of file.
        assert not loop.remove_reader(r)

    asyncio.run(scenario())
    assert lines == ["hello", "no newline at the end"]
