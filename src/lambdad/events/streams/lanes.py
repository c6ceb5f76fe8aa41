"""``ParallelizationFactor``: up to ten batches of one shard processed at once, each
partition key always in the same lane, so records of one key keep their order.

The lane is a stable hash of the key (the same after a restart), and each lane keeps
the shard's order of its records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from lambdad.events.streams.records import StreamRecord

MIN_FACTOR = 1
MAX_FACTOR = 10


def lane_of(key: str, factor: int) -> int:
    if factor <= 1:
        return 0
    digest = hashlib.md5(key.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % factor


def split(records: Sequence[StreamRecord], factor: int) -> list[list[StreamRecord]]:
    """The records of each non-empty lane, in shard order."""
    lanes: dict[int, list[StreamRecord]] = {}
    for record in records:
        lanes.setdefault(lane_of(record.key, factor), []).append(record)
    return [lanes[i] for i in sorted(lanes)]
