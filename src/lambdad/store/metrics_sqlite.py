"""Metric points, billable usage and alarms in their own SQLite database (``metrics.db``).

A series is (account, region, namespace, name, dimensions); a point is one series'
statistics over one period (60, 300 or 3600 s) starting at ``ts``, kept as an opaque
JSON document that only ``observe`` reads: merging two documents is the caller's
(``merge`` arguments), so that this adapter decides nothing about statistics. Every
statement runs on a ``GroupCommitWriter``'s thread; ``":memory:"`` works too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lambdad.store.writer import GroupCommitWriter, open_database

T = TypeVar("T")
# (account, region, namespace, name, ((dimension, value), ...))
Series = tuple[str, str, str, str, tuple[tuple[str, str], ...]]
Merge = Callable[[Sequence[str]], str]
# An alarm history item: (alarm name, time, type, summary, data)
HistoryRow = tuple[str, float, str, str, str]

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL, region TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, dims TEXT NOT NULL, last_ts INTEGER NOT NULL,
    UNIQUE (account, region, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL, period INTEGER NOT NULL, ts INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (series, period, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_age ON points (period, ts);
CREATE TABLE IF NOT EXISTS usage (
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL,
    version TEXT NOT NULL, architecture TEXT NOT NULL, memory_mb INTEGER NOT NULL,
    storage_mb INTEGER NOT NULL, month TEXT NOT NULL,
    requests INTEGER NOT NULL, billed_ms INTEGER NOT NULL,
    pc_billed_ms INTEGER NOT NULL DEFAULT 0, pc_allocated_mb_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, region, month, function, version, architecture, memory_mb,
                 storage_mb)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS units (
    account TEXT NOT NULL, region TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, dims TEXT NOT NULL, unit TEXT NOT NULL,
    PRIMARY KEY (account, region, namespace, name, dims)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarm_history (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, ts REAL NOT NULL,
    type TEXT NOT NULL, summary TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_history_by_time ON alarm_history (account, region, ts);
"""


def _dims(dims: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dims, separators=(",", ":"))


class SqliteMetricStorage:
    def __init__(self, path: Path | str) -> None:
        self.name = str(path)
        self._writer: GroupCommitWriter | None = None
        self._ids: dict[Series, int] = {}  # touched on the writer's thread only

    def open(self) -> None:
        conn = open_database(
            self.name, SCHEMA, synchronous="NORMAL", what="the metrics database",
            holds="the metrics and usage it holds",
        )  # fmt: skip
        # A database from before provisioned concurrency was billed: its usage gains it.
        columns = {row[1] for row in conn.execute("PRAGMA table_info(usage)")}
        for column in ("pc_billed_ms", "pc_allocated_mb_ms"):
            if column not in columns:
                conn.execute(f"ALTER TABLE usage ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
        self._writer = GroupCommitWriter(conn, name="lambdad-metrics", what="the metrics database")
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None

    def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        assert self._writer is not None, "metric storage is not open"
        return self._writer.call(op)

    def _series_id(self, conn: sqlite3.Connection, s: Series, ts: int) -> int:
        known = self._ids.get(s)
        if known is None:
            row = conn.execute(
                "INSERT INTO series (account, region, namespace, name, dims, last_ts) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET last_ts = "
                "max(last_ts, excluded.last_ts) RETURNING id",
                (*s[:4], _dims(s[4]), ts),
            ).fetchone()
            known = self._ids[s] = int(row[0])
        else:
            conn.execute("UPDATE series SET last_ts = max(last_ts, ?) WHERE id = ?", (ts, known))
        return known

    # -- points --------------------------------------------------------------------------

    def merge_points(self, points: Mapping[tuple[Series, int, int], str], merge: Merge) -> None:
        """Add each (series, period, ts) document to the stored one (``merge``d)."""

        def op(conn: sqlite3.Connection) -> None:
            for (series, period, ts), doc in points.items():
                sid = self._series_id(conn, series, ts)
                old = conn.execute(
                    "SELECT doc FROM points WHERE series = ? AND period = ? AND ts = ?",
                    (sid, period, ts),
                ).fetchone()
                new = merge([old[0], doc]) if old else doc
                conn.execute(
                    "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)", (sid, period, ts, new)
                )

        self._call(op)

    def points(
        self, series: Iterable[Series], start: int, end: int
    ) -> list[tuple[Series, int, int, str]]:
        """Every stored point of ``series`` starting in [start, end): (series, period,
        ts, document)."""
        wanted = list(series)

        def op(conn: sqlite3.Connection) -> list[tuple[Series, int, int, str]]:
            out = []
            for s in wanted:
                row = conn.execute(
                    "SELECT id FROM series WHERE account = ? AND region = ? AND namespace = ? "
                    "AND name = ? AND dims = ?",
                    (*s[:4], _dims(s[4])),
                ).fetchone()
                if row is None:
                    continue
                for period, ts, doc in conn.execute(
                    "SELECT period, ts, doc FROM points WHERE series = ? AND ts >= ? AND ts < ?",
                    (row[0], start, end),
                ):
                    out.append((s, int(period), int(ts), str(doc)))
            return out

        return self._call(op)

    def series(self, account: str, region: str, since: int) -> list[Series]:
        """The series of a world with a point at or after ``since``."""

        def op(conn: sqlite3.Connection) -> list[Series]:
            rows = conn.execute(
                "SELECT namespace, name, dims FROM series WHERE account = ? AND region = ? "
                "AND last_ts >= ? ORDER BY namespace, name, dims",
                (account, region, since),
            )
            return [
                (account, region, ns, name, tuple((k, v) for k, v in json.loads(dims)))
                for ns, name, dims in rows
            ]

        return self._call(op)

    def coarsen(self, period: int, before: int, coarser: int | None, merge: Merge) -> int:
        """Points of ``period`` older than ``before`` merged into points of ``coarser``
        (or dropped when None); how many went."""

        def op(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT series, ts, doc FROM points WHERE period = ? AND ts < ?", (period, before)
            ).fetchall()
            if not rows:
                return 0
            conn.execute("DELETE FROM points WHERE period = ? AND ts < ?", (period, before))
            if coarser is None:
                return len(rows)
            groups: dict[tuple[int, int], list[str]] = {}
            for sid, ts, doc in rows:
                groups.setdefault((sid, ts // coarser * coarser), []).append(doc)
            for (sid, ts), docs in groups.items():
                old = conn.execute(
                    "SELECT doc FROM points WHERE series = ? AND period = ? AND ts = ?",
                    (sid, coarser, ts),
                ).fetchone()
                doc = merge([old[0], *docs] if old else docs)
                conn.execute(
                    "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)", (sid, coarser, ts, doc)
                )
            return len(rows)

        return self._call(op)

    def set_units(self, units: Mapping[Series, str]) -> None:
        """The unit each series was last given (PutMetricData, the embedded format)."""

        def op(conn: sqlite3.Connection) -> None:
            for s, unit in units.items():
                conn.execute(
                    "INSERT OR REPLACE INTO units VALUES (?, ?, ?, ?, ?, ?)",
                    (*s[:4], _dims(s[4]), unit),
                )

        self._call(op)

    def unit(self, series: Series) -> str | None:
        row = self._call(
            lambda c: c.execute(
                "SELECT unit FROM units WHERE account = ? AND region = ? AND namespace = ? "
                "AND name = ? AND dims = ?",
                (*series[:4], _dims(series[4])),
            ).fetchone()
        )
        return None if row is None else str(row[0])

    # -- usage ---------------------------------------------------------------------------

    def add_usage(self, usage: Mapping[tuple[Any, ...], Sequence[int]]) -> None:
        """Add (requests, billed ms on demand, billed ms on provisioned concurrency, MB-ms
        of provisioned concurrency allocated) to each (account, region, function,
        version, architecture, memory, storage, month)."""

        def op(conn: sqlite3.Connection) -> None:
            for (account, region, fn, ver, arch, mem, sto, month), adds in usage.items():
                req, ms, pc_ms, pc_alloc = adds
                conn.execute(
                    "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                    "DO UPDATE SET requests = requests + excluded.requests, "
                    "billed_ms = billed_ms + excluded.billed_ms, "
                    "pc_billed_ms = pc_billed_ms + excluded.pc_billed_ms, "
                    "pc_allocated_mb_ms = pc_allocated_mb_ms + excluded.pc_allocated_mb_ms",
                    (account, region, fn, ver, arch, mem, sto, month, req, ms, pc_ms, pc_alloc),
                )

        self._call(op)

    def usage(self, account: str, region: str, month: str) -> list[tuple[Any, ...]]:
        """(function, version, architecture, memory, storage, requests, billed ms, billed
        ms on provisioned concurrency, provisioned MB-ms allocated) rows."""

        def op(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT function, version, architecture, memory_mb, storage_mb, requests, "
                "billed_ms, pc_billed_ms, pc_allocated_mb_ms FROM usage "
                "WHERE account = ? AND region = ? AND month = ? "
                "ORDER BY function, version",
                (account, region, month),
            ).fetchall()

        return self._call(op)

    # -- alarms --------------------------------------------------------------------------

    def put_alarm(self, account: str, region: str, name: str, doc: str) -> None:
        self._call(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO alarms VALUES (?, ?, ?, ?)", (account, region, name, doc)
            )
        )

    def alarms(self, account: str, region: str) -> list[str]:
        return [
            str(r[0])
            for r in self._call(
                lambda c: c.execute(
                    "SELECT doc FROM alarms WHERE account = ? AND region = ? ORDER BY name",
                    (account, region),
                ).fetchall()
            )
        ]

    def alarm(self, account: str, region: str, name: str) -> str | None:
        rows = self._call(
            lambda c: c.execute(
                "SELECT doc FROM alarms WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            ).fetchall()
        )
        return str(rows[0][0]) if rows else None

    def alarm_worlds(self) -> list[tuple[str, str]]:
        """Every (account, region) with an alarm."""
        rows = self._call(
            lambda c: c.execute("SELECT DISTINCT account, region FROM alarms").fetchall()
        )
        return [(str(a), str(r)) for a, r in rows]

    def delete_alarms(self, account: str, region: str, names: Sequence[str]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            for n in names:
                conn.execute(
                    "DELETE FROM alarms WHERE account = ? AND region = ? AND name = ?",
                    (account, region, n),
                )

        self._call(op)

    # -- alarm history ---------------------------------------------------------------------

    def add_alarm_history(
        self,
        account: str,
        region: str,
        items: Sequence[HistoryRow],
        older_than: float,
    ) -> None:
        """Keep ``items``; forget the world's items from before ``older_than``."""

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO alarm_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(account, region, *item) for item in items],
            )
            conn.execute(
                "DELETE FROM alarm_history WHERE account = ? AND region = ? AND ts < ?",
                (account, region, older_than),
            )

        self._call(op)

    def alarm_history(
        self, account: str, region: str, start: float, end: float
    ) -> list[HistoryRow]:
        """The world's items from ``start`` to ``end``, oldest first."""
        rows = self._call(
            lambda c: c.execute(
                "SELECT name, ts, type, summary, data FROM alarm_history "
                "WHERE account = ? AND region = ? AND ts >= ? AND ts <= ? ORDER BY ts, rowid",
                (account, region, start, end),
            ).fetchall()
        )
        return [(str(n), float(t), str(k), str(s), str(d)) for n, t, k, s, d in rows]
