"""The tables of the log database (``logs.db``) and the statements that change them.

Groups and streams carry running sums (``stored_bytes``, ``event_count``, a stream's
first and last event) that the API reports without scanning events: ``insert_events``
and ``delete_events`` are the only statements that add or remove events, and the
latter keeps those sums right whatever selects the victims (retention, the per-group
event cap, a deleted stream). ``find_group`` and ``find_stream`` look ids up without
creating anything. Every function runs on the caller's connection, inside the
caller's transaction (``logs_sqlite.SqliteLogStorage``'s writer thread).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    retention_days INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    first_event INTEGER, last_event INTEGER, last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_id, name)
);
-- AUTOINCREMENT: event ids are eventIds and cursor tie-breakers, never to be reused
-- after retention deletes old rows.
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    ingestion INTEGER NOT NULL,
    size INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_stream ON log_events (stream_id, ts, id);
CREATE INDEX IF NOT EXISTS log_events_group ON log_events (group_id, ts, id);
"""


def find_group(conn: sqlite3.Connection, account: str, region: str, group: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM log_groups WHERE account=? AND region=? AND name=?",
        (account, region, group),
    ).fetchone()
    return None if row is None else int(row[0])


def find_stream(conn: sqlite3.Connection, gid: int, stream: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM log_streams WHERE group_id=? AND name=?", (gid, stream)
    ).fetchone()
    return None if row is None else int(row[0])


def delete_events(
    conn: sqlite3.Connection, gid: int, victims: str, args: tuple[object, ...]
) -> int:
    """Delete the events ``victims`` selects, keeping the stream and group sums right."""
    per_stream = conn.execute(
        f"SELECT stream_id, COUNT(*), SUM(size) FROM log_events WHERE id IN ({victims}) "
        "GROUP BY stream_id",
        args,
    ).fetchall()
    if not per_stream:
        return 0
    conn.execute(f"DELETE FROM log_events WHERE id IN ({victims})", args)
    for sid, _count, size in per_stream:
        # An emptied stream keeps its first/last timestamps, as CloudWatch's do.
        conn.execute(
            "UPDATE log_streams SET stored_bytes = stored_bytes - ?, first_event = "
            "COALESCE((SELECT MIN(ts) FROM log_events WHERE stream_id = ?), first_event) "
            "WHERE id = ?",
            (size, sid, sid),
        )
    count = sum(r[1] for r in per_stream)
    size = sum(r[2] for r in per_stream)
    conn.execute(
        "UPDATE log_groups SET event_count = event_count - ?, stored_bytes = stored_bytes - ? "
        "WHERE id = ?",
        (count, size, gid),
    )
    return int(count)


# Rows per INSERT statement, largest first: a batch is written with a few multi-row
# statements of these sizes (a handful of distinct statements for the statement cache).
_INSERT_SIZES = (256, 64, 16, 4, 1)


@functools.cache
def _insert_sql(rows: int) -> str:
    return (
        "INSERT INTO log_events (group_id, stream_id, ts, ingestion, size, message) VALUES "
        + ",".join(["(?,?,?,?,?,?)"] * rows)
    )


def insert_events(
    conn: sqlite3.Connection, rows: Sequence[tuple[int, int, int, int, int, str]]
) -> None:
    """Insert ``rows`` in order. Multi-row statements rather than executemany(): each
    statement is one step with the GIL released, where executemany() releases and takes
    it back for every row, and the event loop's thread waits for it each time."""
    done, total = 0, len(rows)
    for size in _INSERT_SIZES:
        while total - done >= size:
            chunk = rows[done : done + size]
            conn.execute(_insert_sql(size), [value for row in chunk for value in row])
            done += size
