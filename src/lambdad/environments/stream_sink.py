"""Where the bytes of a response a runtime streams go (the Runtime API's streaming mode).

``ResponseSink`` is what an invocation's caller hands the environment to receive a
streamed response as it arrives (``invoke.response_stream.ResponseStream``); without
one, ``BufferedBody`` gathers the stream whole and the caller gets it as a buffered
response (``Invoke`` of a streaming function, as on AWS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class ResponseSink(Protocol):
    """The receiving end of one invocation's streamed response."""

    streaming: bool  # the runtime answered in streaming mode

    def open(self, content_type: str | None, pressure: Callable[[bool], None] | None) -> None:
        """The runtime began streaming; ``pressure(True)`` stops reading it, ``(False)``
        resumes."""
        ...

    def write(self, data: bytes) -> None: ...

    def end(self) -> None:
        """No more bytes (idempotent)."""
        ...


class BufferedBody:
    """A streamed response gathered whole, for a caller that wants it buffered."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data
