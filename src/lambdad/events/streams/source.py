"""What a shard worker needs of a stream service: its shards, an iterator, a page of
records. ``kinesis`` and ``dynamodb`` implement it over boto3 clients; tests use
``fake.FakeStream``.

Every method may raise ``SourceError`` (the service is down, refused, or throttled
the read); ``ExpiredIterator`` asks for a new iterator from the last record read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lambdad.events.streams.positions import IteratorRequest
from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.shards import Shard


def boto_errors() -> tuple[type[Exception], ...]:
    """The exceptions a boto3 call raises for a failed call (imported when first used)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for others)."""
    response: Any = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class SourceError(Exception):
    """A call to the stream service failed; retry with backoff."""


class ExpiredIterator(SourceError):
    """The shard iterator is too old (Kinesis's are valid 5 minutes)."""


@dataclass(frozen=True, slots=True)
class Page:
    records: Sequence[StreamRecord]
    next_iterator: str | None  # None: the shard is closed and read to its end
    behind_ms: int = 0  # how far the page is behind the tip of the shard


class StreamSource(Protocol):
    kind: str  # "kinesis" or "dynamodb"
    stream_arn: str  # the stream read (a consumer's ARN names its stream)
    timestamps: bool  # takes AT_TIMESTAMP iterators
    max_limit: int  # most records one read returns

    async def shards(self) -> list[Shard]: ...
    async def iterator(self, shard_id: str, request: IteratorRequest) -> str: ...
    async def read(self, shard_id: str, iterator: str, limit: int) -> Page: ...
