"""A stream mapping's settings as the shard workers use them, read once from the
``EventSourceMapping`` the supervisor hands the poller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdad.events.streams.retry import RetryPolicy

# How often an idle shard is read: AWS reads Kinesis shards once a second and DynamoDB
# stream shards four times a second; both services allow five reads a second a shard.
IDLE_POLL = 0.25
# How long a tumbling window that is over in time waits for late records (AWS: "up to
# 2 minutes").
WINDOW_GRACE = 2.0
# How often the shard list is read again to find children of splits and merges.
DISCOVERY_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class StreamSettings:
    batch_size: int = 100
    batching_window: float = 0.0
    parallelization_factor: int = 1
    tumbling_window: int = 0
    report_item_failures: bool = False
    starting_position: str = "LATEST"
    starting_position_timestamp: float | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    idle_poll: float = IDLE_POLL
    window_grace: float = WINDOW_GRACE

    @property
    def lanes(self) -> int:
        # A tumbling window's state belongs to the whole shard: one lane.
        return 1 if self.tumbling_window else max(1, self.parallelization_factor)

    @classmethod
    def of(cls, mapping: Any) -> StreamSettings:
        """From an ``EventSourceMapping`` (``lambdad.model.event_source_mapping``)."""
        ts = mapping.starting_position_timestamp
        return cls(
            batch_size=mapping.batch_size,
            batching_window=float(mapping.maximum_batching_window),
            parallelization_factor=mapping.parallelization_factor,
            tumbling_window=mapping.tumbling_window,
            report_item_failures=mapping.report_batch_item_failures,
            starting_position=mapping.starting_position or "LATEST",
            starting_position_timestamp=ts.timestamp() if ts is not None else None,
            policy=RetryPolicy(
                maximum_retry_attempts=mapping.maximum_retry_attempts,
                maximum_record_age=mapping.maximum_record_age,
                bisect=mapping.bisect_batch_on_function_error,
            ),
        )
