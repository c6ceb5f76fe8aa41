"""An in-memory stream for tests: shards with parents, records put in order, iterators
that say where they are, and a closed shard's last page ending its iterator."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from lambdad.events.streams.positions import (
    AFTER_SEQUENCE_NUMBER,
    AT_SEQUENCE_NUMBER,
    AT_TIMESTAMP,
    LATEST,
    IteratorRequest,
)
from lambdad.events.streams.records import StreamRecord, kinesis_record
from lambdad.events.streams.shards import Shard
from lambdad.events.streams.source import ExpiredIterator, Page, SourceError

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/fake"


@dataclass
class FakeShard:
    shard: Shard
    records: list[StreamRecord] = field(default_factory=list)


class FakeStream:
    kind = "kinesis"
    timestamps = True
    max_limit = 10_000

    def __init__(self, arn: str = ARN) -> None:
        self.stream_arn = arn
        self.table: dict[str, FakeShard] = {}
        self.next_seq = 1
        self.failures = 0  # calls to fail before answering again
        self.reads = 0
        self.empty_pages = 0  # reads to answer with no records (the iterator stays)
        self.never_ends = False  # closed shards' iterators never end (as moto's)
        self.expire_at_read = -1  # the read (counted from 1) whose iterator has expired

    def add_shard(self, shard_id: str, *parents: str) -> None:
        parent = parents[0] if parents else None
        adjacent = parents[1] if len(parents) > 1 else None
        self.table[shard_id] = FakeShard(Shard(shard_id, parent, adjacent))

    def close(self, shard_id: str) -> None:
        entry = self.table[shard_id]
        last = entry.records[-1].sequence_number if entry.records else "0"
        old = entry.shard
        entry.shard = Shard(shard_id, old.parent_id, old.adjacent_parent_id, last)

    def put(self, shard_id: str, key: str, data: bytes, arrival: float) -> StreamRecord:
        raw = {
            "SequenceNumber": str(self.next_seq),
            "PartitionKey": key,
            "Data": data,
            "ApproximateArrivalTimestamp": arrival,
        }
        self.next_seq += 1
        record = kinesis_record(
            raw,
            shard_id=shard_id,
            stream_arn=self.stream_arn,
            region="us-east-1",
            identity_arn="role",
        )
        self.table[shard_id].records.append(record)
        return record

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise SourceError("the stream is down")

    async def shards(self) -> list[Shard]:
        self._maybe_fail()
        return [entry.shard for entry in self.table.values()]

    async def iterator(self, shard_id: str, request: IteratorRequest) -> str:
        self._maybe_fail()
        records = self.table[shard_id].records
        if request.type == LATEST:
            index = len(records)
        elif request.type in (AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER):
            after = int(request.sequence_number or 0) - (request.type == AT_SEQUENCE_NUMBER)
            index = sum(1 for r in records if r.seq <= after)
        elif request.type == AT_TIMESTAMP:
            index = sum(1 for r in records if r.arrival < (request.timestamp or 0))
        else:
            index = 0
        return f"{shard_id}|{index}"

    async def read(self, shard_id: str, iterator: str, limit: int) -> Page:
        self._maybe_fail()
        self.reads += 1
        if self.reads == self.expire_at_read:
            raise ExpiredIterator("Iterator expired")
        if self.empty_pages:
            self.empty_pages -= 1
            return Page([], iterator, behind_ms=1)
        name, _, at = iterator.rpartition("|")
        entry = self.table[name]
        start = int(at)
        page = entry.records[start : start + limit]
        end = start + len(page)
        done = entry.shard.closed and end >= len(entry.records) and not self.never_ends
        return Page(page, None if done else f"{name}|{end}")


def data_of(event: dict[str, object]) -> bytes:
    kinesis = event["kinesis"]
    assert isinstance(kinesis, dict)
    return base64.b64decode(kinesis["data"])
