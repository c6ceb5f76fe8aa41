"""Reads of the logs, answered in CloudWatch Logs' response shapes.

Functions over a ``store.logs.LogStorage``; ``LogStore`` calls them under its lock
after flushing its buffer, so a read sees every event put before it. They decide
what a query means (tokens, limits, response sizes, filter patterns, the scan
budget); the storage only answers ordered, bounded reads.
"""

from __future__ import annotations

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
from lambdad.store.logs import LogGroupInfo, LogStorage, LogStreamInfo, StreamCursor

# FilterLogEvents stops after scanning this many events without filling a page and
# hands back a token, as CloudWatch does, so one call never scans without bound.
FILTER_SCAN_BUDGET = 100_000


def existing_group(storage: LogStorage, account: str, region: str, group: str) -> LogGroupInfo:
    info = storage.group(account, region, group)
    if info is None:
        raise ResourceNotFoundException(GROUP_MISSING)
    return info


def existing_stream(
    storage: LogStorage, account: str, region: str, group: str, stream: str
) -> None:
    existing_group(storage, account, region, group)
    if not storage.has_stream(account, region, group, stream):
        raise ResourceNotFoundException(STREAM_MISSING)


def describe_log_groups(
    storage: LogStorage,
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
    after = str(parse_page_token(token, "g")[0]) if token else None
    groups = storage.list_groups(
        account, region, after=after, prefix=prefix, contains=pattern, limit=limit + 1
    )
    out: dict[str, Any] = {
        "logGroups": [
            group_doc(account, region, g.name, g.creation_time, g.retention_days, g.stored_bytes)
            for g in groups[:limit]
        ]
    }
    if len(groups) > limit:
        out["nextToken"] = page_token("g", [groups[limit - 1].name])
    return out


def describe_log_streams(
    storage: LogStorage,
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
    existing_group(storage, account, region, group)
    after: StreamCursor | None = None
    if token:
        key = parse_page_token(token, "s")
        if by_time and len(key) != 2:
            raise InvalidParameterException(BAD_TOKEN)
        try:
            after = (int(key[0]), str(key[1])) if by_time else (0, str(key[-1]))
        except (IndexError, TypeError, ValueError):
            raise InvalidParameterException(BAD_TOKEN) from None
    streams = storage.list_streams(
        account, region, group, prefix=prefix, by_last_event=by_time,
        descending=bool(descending), after=after, limit=limit + 1,
    )  # fmt: skip
    arn = stream_arn_prefix(account, region, group)
    out: dict[str, Any] = {"logStreams": [_stream_doc(arn, s) for s in streams[:limit]]}
    if len(streams) > limit:
        last = streams[limit - 1]
        key_of_last = [last.last_event or 0, last.name] if by_time else [last.name]
        out["nextToken"] = page_token("s", key_of_last)
    return out


def _stream_doc(arn_prefix: str, s: LogStreamInfo) -> dict[str, Any]:
    return stream_doc(
        arn_prefix, s.name, s.creation_time, s.first_event, s.last_event, s.last_ingestion,
        s.stored_bytes,
    )  # fmt: skip


def get_log_events(
    storage: LogStorage,
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
    existing_stream(storage, account, region, group, stream)
    # GetLogEvents excludes endTime (FilterLogEvents includes it).
    found = storage.stream_events(
        account, region, group, stream, start=lo, end=hi - 1, after=cursor, forward=forward,
        limit=limit,
    )  # fmt: skip
    rows = within_response_size(found, size_at=3)
    if not forward:
        rows.reverse()
    events = [{"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion}
              for r in rows]  # fmt: skip
    if rows:
        f_token = event_token("f", (rows[-1].timestamp, rows[-1].id))
        b_token = event_token("b", (rows[0].timestamp, rows[0].id))
    elif token and cursor is not None:
        # The end in this direction: AWS hands back the token it was given.
        f_token = token if forward else event_token("f", cursor)
        b_token = token if not forward else event_token("b", cursor)
    else:
        f_token, b_token = event_token("f", (lo, 0)), event_token("b", (hi, 0))
    return {"events": events, "nextForwardToken": f_token, "nextBackwardToken": b_token}


def filter_log_events(
    storage: LogStorage,
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
    existing_group(storage, account, region, group)
    start = start_time if start_time is not None else 0
    end = end_time if end_time is not None else MAX_TS

    def read(after: Cursor | None, limit: int) -> list[Any]:
        # Names that do not exist are ignored: `tail --follow` may name one to come.
        return storage.group_events(
            account, region, group, streams=stream_names, stream_prefix=stream_prefix,
            start=start, end=end, after=after, forward=forward, limit=limit,
        )  # fmt: skip

    # With a pattern most rows may not match: read in bigger chunks.
    chunk = limit if pattern.matches_all else max(limit, 1000)
    events: list[dict[str, Any]] = []
    size = scanned = 0
    full = False
    while not full:
        rows = read(cursor, chunk)
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
    # A token only if something lies beyond (ignoring the pattern, which is cheap).
    if full and cursor is not None and read(cursor, 1):
        out["nextToken"] = event_token("f" if forward else "b", cursor)
    return out
