"""Shard lineage: a child starts only when all its parents are finished."""

from __future__ import annotations

from lambdad.events.streams.shards import Shard, shard_from_api, startable


def ids(shards: list[Shard]) -> list[str]:
    return [s.shard_id for s in shards]


def test_open_shards_start_in_listed_order() -> None:
    shards = [Shard("s0"), Shard("s1")]
    assert ids(startable(shards, finished=(), running=())) == ["s0", "s1"]
    assert ids(startable(shards, finished=(), running=("s0",))) == ["s1"]


def test_split_children_wait_for_their_parent() -> None:
    shards = [Shard("p", ending_sequence_number="9"), Shard("c1", "p"), Shard("c2", "p")]
    assert ids(startable(shards, finished=(), running=())) == ["p"]
    assert ids(startable(shards, finished=("p",), running=())) == ["c1", "c2"]


def test_merged_child_waits_for_both_parents() -> None:
    shards = [Shard("a", ending_sequence_number="5"), Shard("b", ending_sequence_number="7")]
    shards.append(Shard("m", "a", "b"))
    assert ids(startable(shards, finished=("a",), running=("b",))) == []
    assert ids(startable(shards, finished=("a", "b"), running=())) == ["m"]


def test_parent_trimmed_from_the_listing_counts_as_finished() -> None:
    shards = [Shard("c", parent_id="gone")]
    assert ids(startable(shards, finished=(), running=())) == ["c"]


def test_shard_from_the_api() -> None:
    shard = shard_from_api(
        {
            "ShardId": "shardId-000000000003",
            "ParentShardId": "shardId-000000000001",
            "AdjacentParentShardId": "shardId-000000000002",
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "42"},
        }
    )
    assert shard.parents == ("shardId-000000000001", "shardId-000000000002")
    assert shard.closed
    assert not shard_from_api({"ShardId": "x", "SequenceNumberRange": {}}).closed
