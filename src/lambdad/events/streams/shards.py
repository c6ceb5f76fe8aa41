"""Shard lineage: which shards of a stream may be read now.

A stream's shards split and merge; a child shard holds records written after its
parents closed, so per-key order holds only if a child is read once every parent is
finished (read to its end). A parent no longer listed (trimmed after the retention
period) counts as finished. Shards start in the order the stream lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Shard:
    shard_id: str
    parent_id: str | None = None
    adjacent_parent_id: str | None = None
    ending_sequence_number: str | None = None  # set once the shard is closed

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(p for p in (self.parent_id, self.adjacent_parent_id) if p)

    @property
    def closed(self) -> bool:
        return self.ending_sequence_number is not None


def shard_from_api(raw: Mapping[str, Any]) -> Shard:
    """A ``Shard`` of Kinesis ``ListShards`` or DynamoDB Streams ``DescribeStream``."""
    ending = raw.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
    return Shard(
        shard_id=raw["ShardId"],
        parent_id=raw.get("ParentShardId"),
        adjacent_parent_id=raw.get("AdjacentParentShardId"),
        ending_sequence_number=str(ending) if ending is not None else None,
    )


def startable(
    shards: Sequence[Shard], finished: Iterable[str], running: Iterable[str]
) -> list[Shard]:
    """The shards to start now: not finished, not running, every listed parent finished."""
    done = set(finished)
    busy = set(running)
    listed = {s.shard_id for s in shards}
    return [
        s
        for s in shards
        if s.shard_id not in done
        and s.shard_id not in busy
        and all(p in done or p not in listed for p in s.parents)
    ]
