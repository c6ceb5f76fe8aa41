"""Per-function statistics of the asynchronous invocation queue, read from its tables.

``read_statistics`` sums the counters, the queued and claimed events (and the age of
the oldest) and the pending deliveries of every function, on any connection:
``SqliteAsyncQueue.statistics`` reads through its own, and ``read_statistics_file``
opens a queue file read-only, from another process, while the server writes it (WAL).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from lambdad.store.queue import FunctionKey, FunctionStatistics


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
    """Statistics of a queue file, opened read-only (from another process)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return read_statistics(conn, now)
    finally:
        conn.close()
