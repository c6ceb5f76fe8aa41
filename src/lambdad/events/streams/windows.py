"""Tumbling windows (``TumblingWindowInSeconds``, 1 to 900): records grouped by the
window their arrival time falls in, a ``state`` carried from one invoke of the window
to the next, and a final invoke when the window is over.

A window is over when a record of a later window is read, when the shard ends, or
when its end has passed and no more of its records came for ``grace`` seconds (AWS
waits "up to 2 minutes"). A state over 1 MB ends the window early: the final invoke
says ``isWindowTerminatedEarly``. The checkpoint moves only when a window is closed
by a successful final invoke, so after a crash its records are read again with a
fresh state (at least once, as AWS promises).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdad.events.streams.records import StreamRecord

MAX_WINDOW = 900
MAX_STATE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    state: Mapping[str, Any] = field(default_factory=dict)
    last_sequence_number: str | None = None  # the last record of the window seen so far
    last_read_at: float = 0.0  # when a record of this window was last read


def bounds(arrival: float, size: int) -> tuple[float, float]:
    start = math.floor(arrival / size) * size
    return float(start), float(start + size)


def open_for(record: StreamRecord, size: int, now: float) -> Window:
    start, end = bounds(record.arrival, size)
    return Window(start, end, last_read_at=now)


def same_window(records: Sequence[StreamRecord], window: Window) -> int:
    """How many leading ``records`` belong to ``window``."""
    count = 0
    for record in records:
        if not window.start <= record.arrival < window.end:
            break
        count += 1
    return count


def is_over(window: Window, pending: Sequence[StreamRecord], now: float, grace: float) -> bool:
    """Whether the window is closed (no more of its records are to come)."""
    if pending and same_window(pending, window) == 0:
        return True
    return not pending and now >= window.end and now - window.last_read_at >= grace


def state_too_big(state: Mapping[str, Any]) -> bool:
    return len(json.dumps(state, separators=(",", ":")).encode()) > MAX_STATE_BYTES


def _iso(ts: float) -> str:
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_event(
    records: Sequence[StreamRecord],
    window: Window,
    *,
    shard_id: str,
    source_arn: str,
    final: bool,
    terminated_early: bool = False,
) -> dict[str, Any]:
    """The event of one invoke in a window (AWS's ``KinesisTimeWindowEvent`` shape)."""
    return {
        "Records": [r.event for r in records],
        "window": {"start": _iso(window.start), "end": _iso(window.end)},
        "state": dict(window.state),
        "shardId": shard_id,
        "eventSourceARN": source_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": terminated_early,
    }
