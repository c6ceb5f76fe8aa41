"""Where reading a shard starts: after its checkpoint, else the mapping's
``StartingPosition``.

``LATEST`` means "records written after the mapping started", and that must still hold
after a restart that found no checkpoint yet: where the source can start at a time
(Kinesis ``AT_TIMESTAMP``) ``LATEST`` reads from the moment the mapping first started,
so records written while lambdad was down are not skipped, and a child shard born
later is read from its start (all its records are newer). DynamoDB Streams have no
``AT_TIMESTAMP``: there ``LATEST`` reads from ``TRIM_HORIZON`` and passes over the
records created before the mapping first started (``not_before``; their creation
times are whole seconds, so records of that very second are kept: at least once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
AT_TIMESTAMP = "AT_TIMESTAMP"
AFTER_SEQUENCE_NUMBER = "AFTER_SEQUENCE_NUMBER"
AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"


@dataclass(frozen=True, slots=True)
class IteratorRequest:
    """The arguments of ``GetShardIterator``."""

    type: str
    sequence_number: str | None = None
    timestamp: float | None = None  # epoch seconds
    # Records that arrived before this (epoch seconds) are passed over, not invoked.
    not_before: float | None = None

    def passes_over(self, arrival: float) -> bool:
        return self.not_before is not None and arrival < math.floor(self.not_before)


def start_of(
    checkpoint: str | None,
    *,
    position: str,
    position_timestamp: float | None,
    started_at: float,
    timestamps: bool,
) -> IteratorRequest:
    """The iterator a shard's reading starts with.

    ``checkpoint``: the last sequence number processed (None: none yet);
    ``started_at``: when the mapping first started polling (epoch seconds);
    ``timestamps``: the source takes ``AT_TIMESTAMP``.
    """
    if checkpoint is not None:
        return IteratorRequest(AFTER_SEQUENCE_NUMBER, sequence_number=checkpoint)
    if position == AT_TIMESTAMP and timestamps:
        return IteratorRequest(AT_TIMESTAMP, timestamp=position_timestamp or 0.0)
    if position == LATEST:
        if timestamps:
            return IteratorRequest(AT_TIMESTAMP, timestamp=started_at)
        return IteratorRequest(TRIM_HORIZON, not_before=started_at)
    return IteratorRequest(TRIM_HORIZON)
