"""The tables of the asynchronous invocation queue (``async.db``) and its rows.

Three tables: ``events`` (each queued invocation, with its claim: ``owner`` and
``lease_until``), ``deliveries`` (destination records and dead letters waiting to be
sent, claimed the same way) and ``counters`` (per function, by name: received,
throttled, dropped, delivery_failures, ...). This module holds the schema, the
inserts (every event received counts as ``received`` in the same transaction), the
counter increment, and how a row becomes a ``QueuedEvent`` or ``PendingDelivery`` and
back. Every function runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from lambdad.store.queue import Delivery, FunctionKey, NewEvent, PendingDelivery, QueuedEvent, fkey

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    fkey TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    requeues INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    owner TEXT,
    lease_until REAL,
    last_response TEXT,
    last_error TEXT,
    trace_id TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events (not_before);
-- Each function's own queue, oldest first (claims share places among functions).
CREATE INDEX IF NOT EXISTS events_queue ON events (fkey, not_before, owner, lease_until);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (not_before);
CREATE TABLE IF NOT EXISTS counters (
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (account, region, function_name, name)
);
"""


def insert_event(conn: sqlite3.Connection, e: NewEvent) -> None:
    conn.execute(
        "INSERT INTO events (id, fkey, account, region, function_name, qualifier, payload, "
        "received_at, not_before, trace_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            e.id,
            fkey(e.key),
            e.account,
            e.region,
            e.function_name,
            e.qualifier,
            e.payload,
            e.received_at,
            e.received_at,
            e.trace_id,
        ),
    )
    bump(conn, e.key, "received")


def add_trace_column(conn: sqlite3.Connection) -> None:
    """A queue made before events kept their trace header gets the column."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "trace_id" not in columns:
        conn.execute("ALTER TABLE events ADD COLUMN trace_id TEXT")


def insert_delivery(conn: sqlite3.Connection, key: FunctionKey, d: Delivery, now: float) -> None:
    meta = {
        "condition": d.condition,
        "functionArn": d.function_arn,
        "attributes": dict(d.attributes),
    }
    conn.execute(
        "INSERT INTO deliveries (account, region, function_name, target, kind, body, meta, "
        "created_at, not_before) VALUES (?,?,?,?,?,?,?,?,?)",
        (*key, d.target, d.kind, d.body, json.dumps(meta), now, now),
    )


def bump(conn: sqlite3.Connection, key: FunctionKey, name: str, n: int = 1) -> None:
    conn.execute(
        "INSERT INTO counters (account, region, function_name, name, value) VALUES (?,?,?,?,?) "
        "ON CONFLICT (account, region, function_name, name) DO UPDATE SET value = value + "
        "excluded.value",
        (*key, name, n),
    )


def dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def loads(value: str | None) -> dict[str, Any] | None:
    return None if value is None else dict(json.loads(value))


# An event a worker may claim now (parameters: now, owner, now).
DUE_AND_FREE = "not_before <= ? AND (owner IS NULL OR (owner != ? AND lease_until < ?))"

# Each function with events queued, found by a loose scan of ``events_queue`` (one index
# probe a function), with how many of its events are due and free (counted up to
# :limit) and when the oldest of them came due.
QUEUE_HEADS = """
WITH RECURSIVE queued(fkey) AS (
    SELECT MIN(fkey) FROM events
    UNION ALL
    SELECT (SELECT MIN(fkey) FROM events WHERE fkey > queued.fkey) FROM queued
    WHERE queued.fkey IS NOT NULL
)
SELECT fkey, (
    SELECT COUNT(*) FROM events WHERE rowid IN (
        SELECT rowid FROM events WHERE fkey = queued.fkey AND not_before <= :now
        AND (owner IS NULL OR (owner != :owner AND lease_until < :now)) LIMIT :limit
    )
), (
    SELECT not_before FROM events WHERE fkey = queued.fkey AND not_before <= :now
    AND (owner IS NULL OR (owner != :owner AND lease_until < :now))
    ORDER BY not_before LIMIT 1
)
FROM queued WHERE fkey IS NOT NULL
"""

# What ``event_from_row`` reads, in its order.
EVENT_COLUMNS = (
    "id, account, region, function_name, qualifier, payload, received_at, attempts, "
    "requeues, last_response, last_error, fkey, trace_id"
)


def event_from_row(row: Sequence[Any]) -> QueuedEvent:
    return QueuedEvent(
        id=row[0],
        account=row[1],
        region=row[2],
        function_name=row[3],
        qualifier=row[4],
        payload=bytes(row[5]),
        received_at=float(row[6]),
        attempts=int(row[7]),
        requeues=int(row[8]),
        last_response=loads(row[9]),
        last_error=loads(row[10]),
        trace_id=row[12] if len(row) > 12 else None,
    )


def delivery_from_row(row: Sequence[Any]) -> PendingDelivery:
    meta = json.loads(row[7])
    return PendingDelivery(
        id=int(row[0]),
        key=(row[1], row[2], row[3]),
        delivery=Delivery(
            target=row[4],
            kind=row[5],
            body=row[6],
            condition=meta.get("condition", ""),
            function_arn=meta.get("functionArn", ""),
            attributes=meta.get("attributes") or {},
        ),
        created_at=float(row[8]),
        attempts=int(row[9]),
    )
