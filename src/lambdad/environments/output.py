"""An environment's output: the runtime's pipe, split into lines, into its log stream.

The runtime's stdout and stderr arrive on one pipe. ``PipeReader`` reads it as
it comes (and drains it on demand, so every line written before an answer is
logged before ``END``); ``LineSplitter`` turns the bytes into lines; ``LogWriter``
hands each line to the log sink with its timestamp and keeps the end of the
invocation's log in a ``TailRing`` (``LogType: Tail`` answers its last 4 KB).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lambdad.clock import Clock

# How much of an invocation's log a ``LogType: Tail`` answer carries (as on AWS).
TAIL_BYTES = 4096
# A line longer than this is cut into pieces, so a runtime writing without newlines
# cannot make the platform buffer without bound.
MAX_LINE_BYTES = 256 * 1024
# One read from the pipe; a drain reads at most this many (64 MB), so a runtime that
# writes as fast as it is read cannot hold an invocation's end forever.
_READ_BYTES = 65536
_DRAIN_READS = 1024

# account, region, log group, log stream, timestamp (ms since the epoch), message
LogSink = Callable[[str, str, str, str, int, str], None]


class TailRing:
    """The last ``TAIL_BYTES`` of log written, in bounded memory (about twice that)."""

    __slots__ = ("_lines", "_size")

    def __init__(self) -> None:
        self._lines: deque[bytes] = deque()
        self._size = 0

    def append(self, data: bytes) -> None:
        self._lines.append(data)
        self._size += len(data)
        # Whole entries are dropped, so up to twice the tail is kept to always hold one.
        while self._size > TAIL_BYTES * 2 and len(self._lines) > 1:
            self._size -= len(self._lines.popleft())

    def clear(self) -> None:
        self._lines.clear()
        self._size = 0

    def held_bytes(self) -> int:
        return self._size

    def tail(self) -> bytes:
        return b"".join(self._lines)[-TAIL_BYTES:]


class LineSplitter:
    """Bytes as they come from a pipe → whole lines (decoded, invalid UTF-8 replaced)."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> list[str]:
        """The lines ``chunk`` completes; an unfinished one waits for the next chunk,
        unless it has grown past ``MAX_LINE_BYTES``."""
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial)
            self._partial = b""
        return [line.decode("utf-8", "replace") for line in lines]

    def flush(self) -> str | None:
        """The unfinished line, if any (the writer paused or went away)."""
        if not self._partial:
            return None
        line, self._partial = self._partial, b""
        return line.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class LogDestination:
    """The log stream an environment writes to."""

    account: str
    region: str
    log_group: str
    log_stream: str


class LogWriter:
    """One environment's log: each message to the sink, timestamped, and to the tail.
    ``newline``: each event ends with a newline, as Lambda's text-format events do
    (``START RequestId: ... Version: $LATEST\\n``, a printed line and its ``\\n``)."""

    __slots__ = ("_clock", "_end", "_sink", "_to", "tail")

    def __init__(
        self, sink: LogSink, to: LogDestination, clock: Clock, *, newline: bool = False
    ) -> None:
        self._sink = sink
        self._to = to
        self._clock = clock
        self._end = "\n" if newline else ""
        self.tail = TailRing()

    def emit(self, message: str, tail: bool = True) -> None:
        """Write ``message``; ``tail=False``: to the stream only (INIT_START, which an
        environment may write while an invocation's tail is being gathered)."""
        to = self._to
        self._sink(
            to.account,
            to.region,
            to.log_group,
            to.log_stream,
            self._clock.now_ms(),
            message + self._end,
        )
        if tail:
            self.tail.append((message + "\n").encode())


class OutputSource(Protocol):
    """Where the runtime's output comes from (a sandbox): the read end of its pipe,
    -1 before it runs and after it is destroyed."""

    @property
    def output_fd(self) -> int: ...


class PipeReader:
    """Reads a runtime's output pipe into lines for ``emit``."""

    __slots__ = ("_emit", "_source", "_splitter")

    def __init__(self, source: OutputSource, emit: Callable[[str], None]) -> None:
        self._source = source
        self._emit = emit
        self._splitter = LineSplitter()

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the pipe whenever it has data, until its writers have all gone."""
        loop.add_reader(self._source.output_fd, self._on_readable)

    def _on_readable(self) -> None:
        fd = self._source.output_fd
        try:
            chunk = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(fd)
            self._flush()
            return
        self._take(chunk)

    def drain(self) -> None:
        """Read everything already in the pipe now, and the unfinished line with it."""
        fd = self._source.output_fd
        if fd < 0:
            return
        for _ in range(_DRAIN_READS):
            try:
                chunk = os.read(fd, _READ_BYTES)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            self._take(chunk)
        self._flush()

    def _take(self, chunk: bytes) -> None:
        for line in self._splitter.feed(chunk):
            self._emit(line)

    def _flush(self) -> None:
        line = self._splitter.flush()
        if line is not None:
            self._emit(line)
