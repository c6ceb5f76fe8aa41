"""The contract of log storage: groups, streams and events, and the values read back.

Storage keeps what it is given and answers ordered, bounded reads; what a query
means in CloudWatch Logs (tokens, response sizes, filter patterns, which events a
``PutLogEvents`` accepts, when retention runs) is decided in ``observe/``.

Guarantees every implementation gives:

- Groups and streams are created implicitly by ``append`` (their creation time is
  the ingestion time of their first event). Each keeps sums: a group its event
  count and bytes, a stream its first and last event times, last ingestion time
  and bytes. Deleting events keeps the sums right; an emptied stream keeps its
  first and last times, as CloudWatch's do.
- Event ids increase and are never reused, even after deletions or a restart of a
  durable implementation: they are eventIds and cursor tie-breakers.
- Events are read in (timestamp, id) order, forwards or backwards, strictly beyond a
  cursor. Message sizes are UTF-8 bytes; a message that is not valid UTF-8 (lone
  surrogates from undecodable output) is stored with replacement characters.

``logs_sqlite`` is the embedded implementation, ``logs_memory`` the one for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class LogRecord(NamedTuple):
    """One event to store. A tuple, not a frozen dataclass: several are made per
    invoke on the hot path, for a fraction of a dataclass's cost."""

    account: str
    region: str
    group: str
    stream: str
    timestamp: int  # ms
    ingestion: int  # ms
    message: str


class StoredEvent(NamedTuple):
    """One event read back (a tuple for the same reason: reads return thousands)."""

    id: int
    timestamp: int
    ingestion: int
    size: int  # UTF-8 bytes of the message
    message: str
    stream: str


@dataclass(frozen=True, slots=True)
class LogGroupInfo:
    name: str
    creation_time: int
    retention_days: int | None
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class LogStreamInfo:
    name: str
    creation_time: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int


# Where a read of events resumes: (timestamp, id) of the last event returned.
EventCursor = tuple[int, int]
# Where a listing of streams resumes: (last event time or 0, name) of the last stream
# returned; in name order only the name counts.
StreamCursor = tuple[int, str]


class LogStorage(Protocol):
    """Groups are named by (account, region, name), streams by their group and name.
    Methods that name a group or stream that does not exist do nothing or return
    nothing; saying so to the caller is ``observe``'s job."""

    name: str  # what to call it in log lines (a path)

    def open(self) -> None: ...
    def close(self) -> None: ...

    # -- writing -------------------------------------------------------------------------

    def append(self, records: Sequence[LogRecord], *, keep: int) -> None:
        """Store ``records`` in one transaction, then delete the oldest events of each
        group written to beyond ``keep`` events."""

    def create_group(self, account: str, region: str, group: str, now_ms: int) -> bool:
        """False if it exists already."""

    def create_stream(
        self, account: str, region: str, group: str, stream: str, now_ms: int
    ) -> bool:
        """False if it exists already (the group must exist)."""

    def delete_group(self, account: str, region: str, group: str) -> None: ...
    def delete_stream(self, account: str, region: str, group: str, stream: str) -> None: ...
    def set_retention(self, account: str, region: str, group: str, days: int | None) -> None: ...

    def retained_groups(self) -> list[tuple[str, str, str, int]]:
        """(account, region, name, days) of every group with a retention in days."""

    def delete_before(self, account: str, region: str, group: str, timestamp: int) -> int:
        """Delete a group's events older than ``timestamp``; how many went."""

    # -- reading -------------------------------------------------------------------------

    def group(self, account: str, region: str, group: str) -> LogGroupInfo | None: ...
    def has_stream(self, account: str, region: str, group: str, stream: str) -> bool: ...

    def list_groups(
        self,
        account: str,
        region: str,
        *,
        after: str | None,
        prefix: str | None,
        contains: str | None,
        limit: int,
    ) -> list[LogGroupInfo]:
        """Groups by name (case-sensitive; a prefix or substring is literal)."""

    def list_streams(
        self,
        account: str,
        region: str,
        group: str,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        after: StreamCursor | None,
        limit: int,
    ) -> list[LogStreamInfo]:
        """Streams by name, or by (last event time or 0, name)."""

    def stream_events(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        *,
        start: int,
        end: int,
        after: EventCursor | None,
        forward: bool,
        limit: int,
    ) -> list[StoredEvent]:
        """A stream's events with ``start <= timestamp <= end``."""

    def group_events(
        self,
        account: str,
        region: str,
        group: str,
        *,
        streams: Sequence[str] | None,
        stream_prefix: str | None,
        start: int,
        end: int,
        after: EventCursor | None,
        forward: bool,
        limit: int,
    ) -> list[StoredEvent]:
        """A group's events with ``start <= timestamp <= end``, interleaved across
        its streams (those named, or those with the prefix, or all)."""


def storable(message: str) -> tuple[str, int]:
    """The message as it is stored (valid UTF-8), and its size in bytes."""
    try:
        data = message.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from undecodable process output.
        data = message.encode("utf-8", "replace")
        message = data.decode("utf-8")
    return message, len(data)
