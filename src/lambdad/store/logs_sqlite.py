"""``store.logs.LogStorage`` in its own SQLite database (``logs.db``).

Every statement runs on the thread of a ``GroupCommitWriter``, which owns the one
connection; ``":memory:"`` therefore works too. ``synchronous=NORMAL``: logs may
lose their last instant on a power cut, but must not slow invokes down. Group and
stream ids are cached (only ever touched on the writer's thread) so that a batch
of events costs a few statements, not a few per event.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from lambdad.store import logs_sqlite_schema as schema
from lambdad.store.logs import (
    EventCursor,
    LogGroupInfo,
    LogRecord,
    LogStreamInfo,
    StoredEvent,
    StreamCursor,
    storable,
)
from lambdad.store.writer import GroupCommitWriter, open_database

T = TypeVar("T")

_GROUP_COLUMNS = "name, creation_time, retention_days, stored_bytes"
_STREAM_COLUMNS = "name, creation_time, first_event, last_event, last_ingestion, stored_bytes"


class SqliteLogStorage:
    def __init__(self, path: Path | str) -> None:
        self.name = str(path)
        self._writer: GroupCommitWriter | None = None
        self._group_ids: dict[tuple[str, str, str], int] = {}
        self._stream_ids: dict[tuple[int, str], int] = {}

    def open(self) -> None:
        """Open (creating it) the database; ``StoreUnreadable`` if the file is not one."""
        conn = open_database(
            self.name,
            schema.SCHEMA,
            synchronous="NORMAL",
            what="the log database",
            holds="the log events it holds",
        )
        self._writer = GroupCommitWriter(conn, name="lambdad-logs", what="the log database")
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None

    def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        assert self._writer is not None, "log storage is not open"
        return self._writer.call(op)

    # -- writing -------------------------------------------------------------------------

    def append(self, records: Sequence[LogRecord], *, keep: int) -> None:
        try:
            self._call(lambda conn: self._append(conn, records, keep))
        except BaseException:
            # Ids cached during the failed transaction may name rows that no longer exist.
            self._forget_ids()
            raise

    def _append(self, conn: sqlite3.Connection, batch: Sequence[LogRecord], keep: int) -> None:
        rows: list[tuple[int, int, int, int, int, str]] = []
        # stream id -> [first ts, last ts, last ingestion, bytes]
        streams: dict[int, list[int]] = {}
        # group id -> [events, bytes]
        groups: dict[int, list[int]] = {}
        # (account, region, group, stream) -> (group id, stream id, stream sums)
        targets: dict[tuple[str, str, str, str], tuple[int, int, list[int]]] = {}
        for account, region, group, stream, ts, ingestion, message in batch:
            target = targets.get((account, region, group, stream))
            if target is None:
                gid = self._group_id(conn, account, region, group, ingestion)
                sid = self._stream_id(conn, gid, stream, ingestion)
                s = streams.get(sid)
                if s is None:
                    s = streams[sid] = [ts, ts, ingestion, 0]
                target = targets[(account, region, group, stream)] = (gid, sid, s)
            gid, sid, s = target
            try:
                size = len(message.encode())
            except UnicodeEncodeError:
                message, size = storable(message)
            rows.append((gid, sid, ts, ingestion, size, message))
            if ts < s[0]:
                s[0] = ts
            if ts > s[1]:
                s[1] = ts
            if ingestion > s[2]:
                s[2] = ingestion
            s[3] += size
            g = groups.get(gid)
            if g is None:
                groups[gid] = [1, size]
            else:
                g[0] += 1
                g[1] += size
        schema.insert_events(conn, rows)
        for sid, (first, last, ingested, size) in streams.items():
            conn.execute(
                "UPDATE log_streams SET first_event = MIN(COALESCE(first_event, ?), ?), "
                "last_event = MAX(COALESCE(last_event, ?), ?), "
                "last_ingestion = MAX(COALESCE(last_ingestion, ?), ?), "
                "stored_bytes = stored_bytes + ? WHERE id = ?",
                (first, first, last, last, ingested, ingested, size, sid),
            )
        for gid, (count, size) in groups.items():
            conn.execute(
                "UPDATE log_groups SET event_count = event_count + ?, "
                "stored_bytes = stored_bytes + ? WHERE id = ?",
                (count, size, gid),
            )
            self._enforce_count(conn, gid, keep)

    def _forget_ids(self) -> None:
        self._group_ids.clear()
        self._stream_ids.clear()

    def _group_id(
        self, conn: sqlite3.Connection, account: str, region: str, name: str, now_ms: int
    ) -> int:
        key = (account, region, name)
        gid = self._group_ids.get(key)
        if gid is None:
            conn.execute(
                "INSERT OR IGNORE INTO log_groups (account, region, name, creation_time) "
                "VALUES (?,?,?,?)",
                (account, region, name, now_ms),
            )
            (gid,) = conn.execute(
                "SELECT id FROM log_groups WHERE account=? AND region=? AND name=?", key
            ).fetchone()
            if len(self._group_ids) > 10_000:
                self._group_ids.clear()
            self._group_ids[key] = gid
        return gid

    def _stream_id(self, conn: sqlite3.Connection, gid: int, name: str, now_ms: int) -> int:
        key = (gid, name)
        sid = self._stream_ids.get(key)
        if sid is None:
            conn.execute(
                "INSERT OR IGNORE INTO log_streams (group_id, name, creation_time) VALUES (?,?,?)",
                (gid, name, now_ms),
            )
            (sid,) = conn.execute(
                "SELECT id FROM log_streams WHERE group_id=? AND name=?", key
            ).fetchone()
            # One stream per execution environment: the cache must not grow forever.
            if len(self._stream_ids) > 50_000:
                self._stream_ids.clear()
            self._stream_ids[key] = sid
        return sid

    def _enforce_count(self, conn: sqlite3.Connection, gid: int, keep: int) -> None:
        (count,) = conn.execute("SELECT event_count FROM log_groups WHERE id=?", (gid,)).fetchone()
        excess = count - keep
        if excess > 0:
            schema.delete_events(
                conn,
                gid,
                "SELECT id FROM log_events WHERE group_id=? ORDER BY ts, id LIMIT ?",
                (gid, excess),
            )

    def create_group(self, account: str, region: str, group: str, now_ms: int) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO log_groups (account, region, name, creation_time) "
                "VALUES (?,?,?,?)",
                (account, region, group, now_ms),
            )
            return cur.rowcount > 0

        return self._call(op)

    def create_stream(
        self, account: str, region: str, group: str, stream: str, now_ms: int
    ) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            gid = schema.find_group(conn, account, region, group)
            if gid is None:
                return False
            cur = conn.execute(
                "INSERT OR IGNORE INTO log_streams (group_id, name, creation_time) VALUES (?,?,?)",
                (gid, stream, now_ms),
            )
            return cur.rowcount > 0

        return self._call(op)

    def delete_group(self, account: str, region: str, group: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            gid = schema.find_group(conn, account, region, group)
            self._forget_ids()
            if gid is not None:
                conn.execute("DELETE FROM log_events WHERE group_id=?", (gid,))
                conn.execute("DELETE FROM log_streams WHERE group_id=?", (gid,))
                conn.execute("DELETE FROM log_groups WHERE id=?", (gid,))

        self._call(op)

    def delete_stream(self, account: str, region: str, group: str, stream: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            gid = schema.find_group(conn, account, region, group)
            sid = None if gid is None else schema.find_stream(conn, gid, stream)
            self._stream_ids.clear()
            if gid is not None and sid is not None:
                schema.delete_events(
                    conn, gid, "SELECT id FROM log_events WHERE stream_id=?", (sid,)
                )
                conn.execute("DELETE FROM log_streams WHERE id=?", (sid,))

        self._call(op)

    def set_retention(self, account: str, region: str, group: str, days: int | None) -> None:
        self._call(
            lambda conn: conn.execute(
                "UPDATE log_groups SET retention_days=? WHERE account=? AND region=? AND name=?",
                (days, account, region, group),
            )
        )

    def retained_groups(self) -> list[tuple[str, str, str, int]]:
        return self._call(
            lambda conn: conn.execute(
                "SELECT account, region, name, retention_days FROM log_groups "
                "WHERE retention_days IS NOT NULL"
            ).fetchall()
        )

    def delete_before(self, account: str, region: str, group: str, timestamp: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            gid = schema.find_group(conn, account, region, group)
            if gid is None:
                return 0
            return schema.delete_events(
                conn, gid, "SELECT id FROM log_events WHERE group_id=? AND ts < ?", (gid, timestamp)
            )

        return self._call(op)

    # -- reading -------------------------------------------------------------------------

    def group(self, account: str, region: str, group: str) -> LogGroupInfo | None:
        row = self._call(
            lambda conn: conn.execute(
                f"SELECT {_GROUP_COLUMNS} FROM log_groups WHERE account=? AND region=? AND name=?",
                (account, region, group),
            ).fetchone()
        )
        return None if row is None else LogGroupInfo(*row)

    def has_stream(self, account: str, region: str, group: str, stream: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            gid = schema.find_group(conn, account, region, group)
            return gid is not None and schema.find_stream(conn, gid, stream) is not None

        return self._call(op)

    def list_groups(
        self,
        account: str,
        region: str,
        *,
        after: str | None,
        prefix: str | None,
        contains: str | None,
        limit: int,
    ) -> list[LogGroupInfo]:
        sql = f"SELECT {_GROUP_COLUMNS} FROM log_groups WHERE account=? AND region=?"
        args: list[object] = [account, region]
        if after is not None:
            sql += " AND name > ?"
            args.append(after)
        if prefix:
            # substr, not LIKE: names may contain LIKE's wildcards, and LIKE ignores case.
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if contains:
            sql += " AND instr(name, ?) > 0"
            args.append(contains)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        rows = self._call(lambda conn: conn.execute(sql, args).fetchall())
        return [LogGroupInfo(*r) for r in rows]

    def list_streams(
        self,
        account: str,
        region: str,
        group: str,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        after: StreamCursor | None,
        limit: int,
    ) -> list[LogStreamInfo]:
        beyond = "<" if descending else ">"
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT {_STREAM_COLUMNS} FROM log_streams WHERE group_id=?"
        args: list[object] = []
        if after is not None:
            if by_last_event:
                sql += f" AND (COALESCE(last_event, 0), name) {beyond} (?, ?)"
                args += after
            else:
                sql += f" AND name {beyond} ?"
                args.append(after[1])
        if prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        order = f"name {direction}"
        if by_last_event:
            order = f"COALESCE(last_event, 0) {direction}, " + order
        sql += f" ORDER BY {order} LIMIT ?"
        args.append(limit)

        def op(conn: sqlite3.Connection) -> list[LogStreamInfo]:
            gid = schema.find_group(conn, account, region, group)
            if gid is None:
                return []
            return [LogStreamInfo(*r) for r in conn.execute(sql, [gid, *args]).fetchall()]

        return self._call(op)

    def stream_events(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        *,
        start: int,
        end: int,
        after: EventCursor | None,
        forward: bool,
        limit: int,
    ) -> list[StoredEvent]:
        sql = "SELECT id, ts, ingestion, size, message, ? FROM log_events "
        sql += "WHERE stream_id=? AND ts >= ? AND ts <= ?"
        args: list[object] = [start, end]
        if after is not None:
            sql += f" AND (ts, id) {'>' if forward else '<'} (?, ?)"
            args += after
        order = "ASC" if forward else "DESC"
        sql += f" ORDER BY ts {order}, id {order} LIMIT ?"
        args.append(limit)

        def op(conn: sqlite3.Connection) -> list[StoredEvent]:
            gid = schema.find_group(conn, account, region, group)
            sid = None if gid is None else schema.find_stream(conn, gid, stream)
            if sid is None:
                return []
            rows = conn.execute(sql, [stream, sid, *args]).fetchall()
            return [StoredEvent(*r) for r in rows]

        return self._call(op)

    def group_events(
        self,
        account: str,
        region: str,
        group: str,
        *,
        streams: Sequence[str] | None,
        stream_prefix: str | None,
        start: int,
        end: int,
        after: EventCursor | None,
        forward: bool,
        limit: int,
    ) -> list[StoredEvent]:
        where = "e.group_id = ? AND e.ts >= ? AND e.ts <= ?"
        args: list[object] = [start, end]
        if streams:
            where += f" AND s.name IN ({','.join('?' * len(streams))})"
            args += streams
        elif stream_prefix:
            where += " AND substr(s.name, 1, ?) = ?"
            args += [len(stream_prefix), stream_prefix]
        if after is not None:
            where += f" AND (e.ts, e.id) {'>' if forward else '<'} (?, ?)"
            args += after
        order = "ASC" if forward else "DESC"
        sql = (
            "SELECT e.id, e.ts, e.ingestion, e.size, e.message, s.name FROM log_events e "
            f"JOIN log_streams s ON s.id = e.stream_id WHERE {where} "
            f"ORDER BY e.ts {order}, e.id {order} LIMIT ?"
        )
        args.append(limit)

        def op(conn: sqlite3.Connection) -> list[StoredEvent]:
            gid = schema.find_group(conn, account, region, group)
            if gid is None:
                return []
            return [StoredEvent(*r) for r in conn.execute(sql, [gid, *args]).fetchall()]

        return self._call(op)
