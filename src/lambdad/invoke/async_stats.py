"""Counters and queue state of asynchronous invocation, per function.

The counters live in the queue's database (``async_queue`` changes them in the same
transactions as the events they count), so they survive restarts and can be read by
another process: ``lambdad async-stats`` reads the file directly, and the metrics
exporter will too. In steady state ``received = processed + dropped + queued``,
give or take events run again after a crash.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FunctionKey = tuple[str, str, str]  # account, region, function name

COUNTERS = (
    "received",  # accepted (202)
    "processed",  # finished with a success
    "retried",  # retries scheduled after a function error
    "throttled",  # attempts requeued: throttled or failed by the platform
    "dropped",  # finished without a success (retries exhausted, too old, function gone)
    "delivery_failures",  # failed attempts to reach a destination or dead-letter queue
    "deliveries_dropped",  # records given up on after async_delivery_max_age
)


@dataclass(frozen=True, slots=True)
class FunctionStatistics:
    account: str
    region: str
    function_name: str
    counters: dict[str, int]
    queued: int
    in_flight: int
    oldest_age: float | None  # seconds since the oldest queued event arrived
    deliveries_pending: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "function": self.function_name,
            **{name: self.counters.get(name, 0) for name in COUNTERS},
            "queued": self.queued,
            "in_flight": self.in_flight,
            "oldest_age": self.oldest_age,
            "deliveries_pending": self.deliveries_pending,
        }


def read_statistics(conn: sqlite3.Connection, now: float) -> list[FunctionStatistics]:
    by_key: dict[FunctionKey, dict[str, Any]] = {}

    def entry(key: FunctionKey) -> dict[str, Any]:
        return by_key.setdefault(
            key, {"counters": {}, "queued": 0, "in_flight": 0, "oldest": None, "pending": 0}
        )

    for account, region, name, counter, value in conn.execute(
        "SELECT account, region, function_name, name, value FROM counters"
    ):
        entry((account, region, name))["counters"][counter] = int(value)
    for account, region, name, count, claimed, oldest in conn.execute(
        "SELECT account, region, function_name, COUNT(*), SUM(owner IS NOT NULL), "
        "MIN(received_at) FROM events GROUP BY account, region, function_name"
    ):
        e = entry((account, region, name))
        e.update(queued=int(count), in_flight=int(claimed or 0), oldest=oldest)
    for account, region, name, count in conn.execute(
        "SELECT account, region, function_name, COUNT(*) FROM deliveries "
        "GROUP BY account, region, function_name"
    ):
        entry((account, region, name))["pending"] = int(count)
    return [
        FunctionStatistics(
            account=k[0],
            region=k[1],
            function_name=k[2],
            counters=v["counters"],
            queued=v["queued"],
            in_flight=v["in_flight"],
            oldest_age=None if v["oldest"] is None else max(now - v["oldest"], 0.0),
            deliveries_pending=v["pending"],
        )
        for k, v in sorted(by_key.items())
    ]


def read_statistics_file(path: Path, now: float) -> list[FunctionStatistics]:
    """Statistics of a data directory's queue, read-only (for the CLI)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return read_statistics(conn, now)
    finally:
        conn.close()
