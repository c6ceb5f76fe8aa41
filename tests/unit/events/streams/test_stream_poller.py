"""A stream mapping's poller over an in-memory stream: order, checkpoints, retries,
partial failures, on-failure records, lanes, lineage, restarts and windows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.unit.events.streams.conftest import FakeContext, run_until

from lambdad.events.streams.fake import FakeStream, data_of
from lambdad.events.streams.poller import StreamPoller
from lambdad.events.streams.shard_worker import SHARD_END


def ok(event: dict[str, Any]) -> tuple[Any, str | None]:
    return None, None


def stream_with(
    count: int, keys: int = 1, shard: str = "s0", now: float = 1767225600.0
) -> FakeStream:
    stream = FakeStream()
    stream.add_shard(shard)
    for i in range(count):
        stream.put(shard, f"key-{i % keys}", f"r{i}".encode(), now + i * 0.001)
    return stream


def run(ctx: FakeContext, stream: FakeStream, done: Any) -> bool:
    poller = StreamPoller(ctx.mapping, ctx, source=stream)
    return asyncio.run(run_until(poller.run(), done))


def test_records_reach_the_function_in_order_and_are_checkpointed() -> None:
    stream = stream_with(25, now=1767225600.0 - 60)
    ctx = FakeContext(ok, batch_size=10)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "25")
    assert ctx.sequence_numbers() == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    first = ctx.events[0]["Records"][0]
    assert first["eventID"] == "s0:1"
    assert first["eventSource"] == "aws:kinesis"
    assert data_of(first) == b"r0"
    assert ctx.reports[-1] == "OK"
    # IteratorAge: the age of each batch's last record once processed.
    assert len(ctx.iterator_ages) == 3
    assert all(59_000 < age < 61_000 for age in ctx.iterator_ages)


def test_partial_failure_retries_from_the_failed_record() -> None:
    stream = stream_with(6)
    failed = []

    def handler(event: dict[str, Any]) -> tuple[Any, str | None]:
        seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        if "4" in seqs and not failed:
            failed.append(1)
            return {"batchItemFailures": [{"itemIdentifier": "4"}]}, None
        return {"batchItemFailures": []}, None

    ctx = FakeContext(handler, batch_size=10, report_batch_item_failures=True)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "6")
    assert ctx.sequence_numbers() == [[1, 2, 3, 4, 5, 6], [4, 5, 6]]
    assert ("s0", "3") in ctx.checkpoints.saves  # checkpoint before the failed record


def test_poison_record_is_isolated_by_bisect_and_sent_to_the_destination() -> None:
    stream = stream_with(8)

    def handler(event: dict[str, Any]) -> tuple[Any, str | None]:
        if any(data_of(r) == b"r5" for r in event["Records"]):
            return {"errorMessage": "poison"}, "Unhandled"
        return None, None

    ctx = FakeContext(
        handler, batch_size=8, maximum_retry_attempts=1, bisect_batch_on_function_error=True
    )
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "8")
    assert len(ctx.failures) == 1
    doc = ctx.failures[0]
    info = doc["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        "6",
        "6",
        1,
    )
    assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert doc["requestContext"]["approximateInvokeCount"] == 5  # 8, 4, 2, 1, 1 retry
    assert doc["responseContext"]["functionError"] == "Unhandled"
    assert "payload" not in doc  # only a bucket destination gets the event
    done = sorted({s for batch in ctx.sequence_numbers() for s in batch})
    assert done == list(range(1, 9))


def test_a_bucket_destination_also_gets_the_whole_event() -> None:
    stream = stream_with(2)
    ctx = FakeContext(
        lambda e: (None, "Unhandled"),
        maximum_retry_attempts=0,
        on_failure_destination="arn:aws:s3:::failures",
    )
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "2")
    (doc,) = ctx.failures
    assert json.loads(doc["payload"]) == ctx.events[0]


def test_old_records_are_discarded_as_record_age_exceeded() -> None:
    ctx = FakeContext(ok, batch_size=10, maximum_record_age=60)
    stream = stream_with(3, now=ctx.now() - 120)
    for i in range(2):
        stream.put("s0", "k", b"new", ctx.now() + i)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "5")
    assert ctx.failures[0]["requestContext"]["condition"] == "RecordAgeExceeded"
    assert ctx.failures[0]["KinesisBatchInfo"]["batchSize"] == 3
    assert ctx.sequence_numbers() == [[4, 5]]


def test_throttles_wait_without_spending_retries() -> None:
    stream = stream_with(2)
    ctx = FakeContext(ok, maximum_retry_attempts=0)
    ctx.throttle = 3
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "2")
    assert ctx.failures == []
    assert ctx.sequence_numbers() == [[1, 2]]


def test_parallelization_keeps_each_key_in_order() -> None:
    stream = stream_with(300, keys=13)
    ctx = FakeContext(ok, batch_size=5, parallelization_factor=4)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "300")
    by_key: dict[str, list[int]] = {}
    for event in ctx.events:
        assert len(event["Records"]) <= 5
        for r in event["Records"]:
            by_key.setdefault(r["kinesis"]["partitionKey"], []).append(
                int(r["kinesis"]["sequenceNumber"])
            )
    for seqs in by_key.values():
        assert seqs == sorted(seqs)
    assert sorted(s for seqs in by_key.values() for s in seqs) == list(range(1, 301))


def test_a_restart_resumes_from_the_checkpoint_without_gap() -> None:
    stream = stream_with(40)
    ctx = FakeContext(ok, batch_size=10)
    run(ctx, stream, lambda: len(ctx.events) >= 2)
    first = ctx.sequence_numbers()
    ctx.events.clear()
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "40")
    again = ctx.sequence_numbers()
    seen = [s for batch in first + again for s in batch]
    assert set(seen) == set(range(1, 41))
    assert again[0][0] <= first[-1][-1] + 1  # nothing skipped


def test_children_are_read_after_their_parent() -> None:
    stream = stream_with(3, shard="parent")
    stream.close("parent")
    stream.add_shard("child-a", "parent")
    stream.add_shard("child-b", "parent")
    stream.put("child-a", "k", b"a", 1767225601.0)
    stream.put("child-b", "k", b"b", 1767225601.0)
    ctx = FakeContext(ok)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("child-b") == "5")
    assert ctx.checkpoints.values["parent"] == SHARD_END
    assert ctx.sequence_numbers()[0] == [1, 2, 3]
    assert sorted(ctx.sequence_numbers()[1:]) == [[4], [5]]


def test_a_closed_shard_whose_iterator_never_ends_is_finished_at_its_last_record() -> None:
    stream = stream_with(3, shard="parent")
    stream.close("parent")
    stream.add_shard("child", "parent")
    stream.put("child", "k", b"c", 1767225601.0)
    stream.never_ends = True
    stream.kind = "dynamodb"  # type: ignore[misc]  # no MillisBehindLatest
    stream.empty_pages = 2  # empty pages on the way prove nothing
    ctx = FakeContext(ok, kind="dynamodb")
    run(ctx, stream, lambda: ctx.checkpoints.values.get("child") == "4")
    assert ctx.sequence_numbers() == [[1, 2, 3], [4]]
    assert ctx.checkpoints.values["parent"] == SHARD_END


def test_an_expired_iterator_is_renewed_after_the_last_record_read() -> None:
    stream = stream_with(5)
    stream.max_limit = 2  # type: ignore[misc]  # pages of two records
    stream.expire_at_read = 2
    ctx = FakeContext(ok, batch_size=1)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "5")
    assert ctx.sequence_numbers() == [[1], [2], [3], [4], [5]]  # no gap, no repeat
    assert stream.reads >= 4  # the expired read, then three pages


def test_source_errors_are_retried_and_reported() -> None:
    stream = stream_with(2)
    stream.failures = 3
    ctx = FakeContext(ok)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "2")
    assert any(r and r.startswith("PROBLEM: the stream is down") for r in ctx.reports)
    assert ctx.reports[-1] == "OK"


def test_latest_starts_at_the_moment_the_mapping_first_started() -> None:
    ctx = FakeContext(ok, starting_position="LATEST")
    stream = stream_with(2, now=ctx.now() - 10)
    stream.put("s0", "k", b"after", ctx.now() + 1)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "3")
    assert ctx.sequence_numbers() == [[3]]


def test_latest_without_timestamps_passes_over_older_records() -> None:
    ctx = FakeContext(ok, starting_position="LATEST", kind="dynamodb")
    stream = stream_with(2, now=ctx.now() - 10)
    stream.timestamps = False  # type: ignore[misc]  # as DynamoDB Streams
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "2")
    assert ctx.events == []  # passed over, and checkpointed past


def test_latest_still_means_the_first_start_after_a_restart_without_checkpoint() -> None:
    ctx = FakeContext(ok, starting_position="LATEST", kind="dynamodb")
    stream = stream_with(0)
    stream.timestamps = False  # type: ignore[misc]
    run(ctx, stream, lambda: stream.reads >= 2)
    assert "s0" not in ctx.checkpoints.values
    stream.put("s0", "k", b"written while lambdad was down", ctx.now() + 1)
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "1")
    assert ctx.sequence_numbers() == [[1]]


def test_filters_drop_records_and_move_the_checkpoint() -> None:
    stream = FakeStream()
    stream.add_shard("s0")
    for i in range(4):
        stream.put("s0", "k", b'{"n": %d}' % i, 1767225600.0)
    ctx = FakeContext(ok, filters=('{"data": {"n": [1, 3]}}',))
    run(ctx, stream, lambda: ctx.checkpoints.values.get("s0") == "4")
    assert ctx.sequence_numbers() == [[2, 4]]


def test_tumbling_window_carries_state_and_closes_with_a_final_invoke() -> None:
    ctx = FakeContext(
        lambda e: ({"state": {"n": e["state"].get("n", 0) + len(e["Records"])}}, None),
        batch_size=2,
        tumbling_window=60,
    )
    base = 1767225600.0  # a window boundary
    stream = FakeStream()
    stream.add_shard("s0")
    for i in range(5):
        stream.put("s0", "k", b"x", base + i)
    stream.put("s0", "k", b"y", base + 61)
    run(
        ctx,
        stream,
        lambda: (
            any(e["isFinalInvokeForWindow"] for e in ctx.events)
            and ctx.checkpoints.values.get("s0") == "5"
        ),
    )
    windows = [(len(e["Records"]), e["state"], e["isFinalInvokeForWindow"]) for e in ctx.events[:4]]
    assert windows == [
        (2, {}, False),
        (2, {"n": 2}, False),
        (1, {"n": 4}, False),
        (0, {"n": 5}, True),
    ]
    assert ctx.events[0]["window"] == {
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T00:01:00Z",
    }
    assert ctx.events[0]["shardId"] == "s0"
    assert ctx.events[0]["isWindowTerminatedEarly"] is False
