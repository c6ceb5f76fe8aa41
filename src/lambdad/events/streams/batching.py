"""Batching a shard's records: ``BatchSize``, ``MaximumBatchingWindowInSeconds`` and the
6 MB synchronous payload limit, as pure functions.

A batch is invoked once it is full (``BatchSize`` records, or the next record would
take the event past the payload limit) or once the batching window, counted from
when its first record was read, has passed (a window of 0 invokes whatever one read
returned). A batch always holds at least one record.
"""

from __future__ import annotations

from collections.abc import Sequence

from lambdad.events.streams.records import StreamRecord

MAX_PAYLOAD = 6 * 1024 * 1024
# Room for the event's envelope: ``{"Records":[...]}`` and, with tumbling windows, the
# window, the shard id, the ARN and flags (the state is counted on its own).
ENVELOPE_BYTES = 2048


def take(records: Sequence[StreamRecord], batch_size: int, max_bytes: int = MAX_PAYLOAD) -> int:
    """How many of the leading ``records`` go into the next batch (at least one)."""
    used = ENVELOPE_BYTES
    count = 0
    for record in records[:batch_size]:
        used += record.size + 1  # the comma between records
        if count and used > max_bytes:
            break
        count += 1
    return count


def is_full(records: Sequence[StreamRecord], batch_size: int, max_bytes: int = MAX_PAYLOAD) -> bool:
    """Whether the buffered records already make a whole batch."""
    return bool(records) and (
        len(records) >= batch_size or take(records, batch_size, max_bytes) < len(records)
    )


def window_left(first_read_at: float | None, window: float, now: float) -> float:
    """Seconds the batching window still waits for more records (0: invoke now)."""
    if first_read_at is None:
        return window
    return max(0.0, first_read_at + window - now)
