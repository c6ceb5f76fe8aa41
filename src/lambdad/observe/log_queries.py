"""Reads of the log database, answered in CloudWatch Logs' response shapes.

Functions over an open SQLite connection; ``LogStore`` calls them under its lock
after flushing its buffer, so a read sees every event put before it. They decide
nothing about storage: the schema and every write belong to ``observe.logs``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from lambdad.errors import ResourceNotFoundException
from lambdad.observe.filter_pattern import FilterPattern
from lambdad.observe.log_shapes import (
    BAD_TOKEN,
    DESCRIBE_LIMIT,
    EVENT_OVERHEAD,
    GROUP_MISSING,
    MAX_RESPONSE_BYTES,
    MAX_RESPONSE_EVENTS,
    MAX_TS,
    STREAM_MISSING,
    Cursor,
    InvalidParameterException,
    event_token,
    group_doc,
    page_token,
    parse_event_token,
    parse_page_token,
    stream_arn_prefix,
    stream_doc,
    within_response_size,
)

# FilterLogEvents stops after scanning this many events without filling a page and
# hands back a token, as CloudWatch does, so one call never scans without bound.
FILTER_SCAN_BUDGET = 100_000

GroupRow = tuple[int, str, int, int | None, int]  # id, name, created, retention, bytes


def group_row(conn: sqlite3.Connection, account: str, region: str, group: str) -> GroupRow:
    row = conn.execute(
        "SELECT id, name, creation_time, retention_days, stored_bytes FROM log_groups "
        "WHERE account=? AND region=? AND name=?",
        (account, region, group),
    ).fetchone()
    if row is None:
        raise ResourceNotFoundException(GROUP_MISSING)
    return (row[0], row[1], row[2], row[3], row[4])


def stream_id(conn: sqlite3.Connection, gid: int, stream: str) -> int:
    row = conn.execute(
        "SELECT id FROM log_streams WHERE group_id=? AND name=?", (gid, stream)
    ).fetchone()
    if row is None:
        raise ResourceNotFoundException(STREAM_MISSING)
    return int(row[0])


def describe_log_groups(
    conn: sqlite3.Connection,
    account: str,
    region: str,
    prefix: str | None,
    limit: int | None,
    token: str | None,
    pattern: str | None,
) -> dict[str, Any]:
    if prefix and pattern:
        raise InvalidParameterException(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
        )
    limit = limit or DESCRIBE_LIMIT
    sql = (
        "SELECT name, creation_time, retention_days, stored_bytes FROM log_groups "
        "WHERE account=? AND region=?"
    )
    args: list[object] = [account, region]
    if token:
        sql += " AND name > ?"
        args.append(str(parse_page_token(token, "g")[0]))
    if prefix:
        # substr, not LIKE: names may contain LIKE's wildcards, and LIKE ignores case.
        sql += " AND substr(name, 1, ?) = ?"
        args += [len(prefix), prefix]
    if pattern:
        sql += " AND instr(name, ?) > 0"
        args.append(pattern)
    sql += " ORDER BY name LIMIT ?"
    rows = conn.execute(sql, [*args, limit + 1]).fetchall()
    out: dict[str, Any] = {"logGroups": [group_doc(account, region, *r) for r in rows[:limit]]}
    if len(rows) > limit:
        out["nextToken"] = page_token("g", [rows[limit - 1][0]])
    return out


def describe_log_streams(
    conn: sqlite3.Connection,
    account: str,
    region: str,
    group: str,
    prefix: str | None,
    order_by: str | None,
    descending: bool | None,
    limit: int | None,
    token: str | None,
) -> dict[str, Any]:
    by_time = order_by == "LastEventTime"
    if by_time and prefix:
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    limit = limit or DESCRIBE_LIMIT
    beyond = "<" if descending else ">"
    direction = "DESC" if descending else "ASC"
    gid = group_row(conn, account, region, group)[0]
    sql = (
        "SELECT name, creation_time, first_event, last_event, last_ingestion, stored_bytes, "
        "COALESCE(last_event, 0) FROM log_streams WHERE group_id=?"
    )
    args: list[object] = [gid]
    if token:
        after = parse_page_token(token, "s")
        if by_time:
            if len(after) != 2:
                raise InvalidParameterException(BAD_TOKEN)
            sql += f" AND (COALESCE(last_event, 0), name) {beyond} (?, ?)"
            args += after
        else:
            sql += f" AND name {beyond} ?"
            args.append(after[-1])
    if prefix:
        sql += " AND substr(name, 1, ?) = ?"
        args += [len(prefix), prefix]
    order = f"name {direction}"
    if by_time:
        order = f"COALESCE(last_event, 0) {direction}, " + order
    sql += f" ORDER BY {order} LIMIT ?"
    rows = conn.execute(sql, [*args, limit + 1]).fetchall()
    arn = stream_arn_prefix(account, region, group)
    out: dict[str, Any] = {"logStreams": [stream_doc(arn, *r[:6]) for r in rows[:limit]]}
    if len(rows) > limit:
        last = rows[limit - 1]
        out["nextToken"] = page_token("s", [last[6], last[0]] if by_time else [last[0]])
    return out


def get_log_events(
    conn: sqlite3.Connection,
    account: str,
    region: str,
    group: str,
    stream: str,
    start_time: int | None,
    end_time: int | None,
    start_from_head: bool | None,
    limit: int | None,
    token: str | None,
) -> dict[str, Any]:
    limit = min(limit or MAX_RESPONSE_EVENTS, MAX_RESPONSE_EVENTS)
    lo = start_time if start_time is not None else 0
    hi = end_time if end_time is not None else MAX_TS
    cursor: Cursor | None = None
    if token:
        direction, cursor = parse_event_token(token)
        forward = direction == "f"
    else:
        forward = bool(start_from_head)
    sid = stream_id(conn, group_row(conn, account, region, group)[0], stream)
    # GetLogEvents excludes endTime (FilterLogEvents includes it).
    sql = "SELECT id, ts, ingestion, size, message FROM log_events "
    sql += "WHERE stream_id=? AND ts >= ? AND ts < ?"
    args: list[object] = [sid, lo, hi]
    if cursor is not None:
        sql += f" AND (ts, id) {'>' if forward else '<'} (?, ?)"
        args += cursor
    order = "ASC" if forward else "DESC"
    sql += f" ORDER BY ts {order}, id {order} LIMIT ?"
    rows = within_response_size(conn.execute(sql, [*args, limit]).fetchall(), size_at=3)
    if not forward:
        rows.reverse()
    events = [{"timestamp": r[1], "message": r[4], "ingestionTime": r[2]} for r in rows]
    if rows:
        f_token = event_token("f", (rows[-1][1], rows[-1][0]))
        b_token = event_token("b", (rows[0][1], rows[0][0]))
    elif token and cursor is not None:
        # The end in this direction: AWS hands back the token it was given.
        f_token = token if forward else event_token("f", cursor)
        b_token = token if not forward else event_token("b", cursor)
    else:
        f_token, b_token = event_token("f", (lo, 0)), event_token("b", (hi, 0))
    return {"events": events, "nextForwardToken": f_token, "nextBackwardToken": b_token}


def filter_log_events(
    conn: sqlite3.Connection,
    account: str,
    region: str,
    group: str,
    stream_names: Sequence[str] | None,
    stream_prefix: str | None,
    start_time: int | None,
    end_time: int | None,
    filter_pattern: str | None,
    limit: int | None,
    token: str | None,
    start_from_head: bool | None,
) -> dict[str, Any]:
    if stream_names and stream_prefix:
        raise InvalidParameterException(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
        )
    pattern = FilterPattern.parse(filter_pattern)
    limit = min(limit or MAX_RESPONSE_EVENTS, MAX_RESPONSE_EVENTS)
    cursor: Cursor | None = None
    if token:
        direction, cursor = parse_event_token(token)
        forward = direction == "f"
    else:
        forward = start_from_head is not False
    gid = group_row(conn, account, region, group)[0]
    where = "e.group_id = ? AND e.ts >= ? AND e.ts <= ?"
    args: list[object] = [
        gid,
        start_time if start_time is not None else 0,
        end_time if end_time is not None else MAX_TS,
    ]
    if stream_names:
        # Names that do not exist are ignored: `tail --follow` may name one to come.
        where += f" AND s.name IN ({','.join('?' * len(stream_names))})"
        args += stream_names
    elif stream_prefix:
        where += " AND substr(s.name, 1, ?) = ?"
        args += [len(stream_prefix), stream_prefix]
    order = "ASC" if forward else "DESC"
    beyond = ">" if forward else "<"
    select = (
        "SELECT e.id, e.ts, e.ingestion, e.size, e.message, s.name FROM log_events e "
        f"JOIN log_streams s ON s.id = e.stream_id WHERE {where}"
    )
    # With a pattern most rows may not match: read in bigger chunks.
    chunk = limit if pattern.matches_all else max(limit, 1000)
    events: list[dict[str, Any]] = []
    size = scanned = 0
    full = False
    while not full:
        sql, page_args = select, list(args)
        if cursor is not None:
            sql += f" AND (e.ts, e.id) {beyond} (?, ?)"
            page_args += cursor
        sql += f" ORDER BY e.ts {order}, e.id {order} LIMIT ?"
        rows = conn.execute(sql, [*page_args, chunk]).fetchall()
        for eid, ts, ingested, nbytes, message, stream in rows:
            scanned += 1
            if pattern.matches(message):
                if events and size + nbytes + EVENT_OVERHEAD > MAX_RESPONSE_BYTES:
                    full = True
                    break
                events.append({
                    "logStreamName": stream,
                    "timestamp": ts,
                    "message": message,
                    "ingestionTime": ingested,
                    "eventId": str(eid),
                })  # fmt: skip
                size += nbytes + EVENT_OVERHEAD
            cursor = (ts, eid)
            if len(events) >= limit or scanned >= FILTER_SCAN_BUDGET:
                full = True
                break
        if len(rows) < chunk:
            break
    out: dict[str, Any] = {"events": events, "searchedLogStreams": []}
    if full and cursor is not None:
        # A token only if something lies beyond (ignoring the pattern, which is cheap).
        probe = f"{select} AND (e.ts, e.id) {beyond} (?, ?) LIMIT 1"
        if conn.execute(probe, [*args, *cursor]).fetchone() is not None:
            out["nextToken"] = event_token("f" if forward else "b", cursor)
    return out
