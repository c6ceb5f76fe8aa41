"""Running a parsed Logs Insights query over log events: the pipeline of commands,
the aggregates of ``stats``, and the rows in ``GetQueryResults``' shape."""

from __future__ import annotations

import base64
import functools
import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdad.observe.insights_eval import Record, evaluate, number, truthy
from lambdad.observe.insights_syntax import (
    Call,
    Dedup,
    Filter,
    Limit,
    MalformedQueryException,
    Parse,
    Projection,
    Sort,
    Stats,
)

DEFAULT_FIELDS = ("@timestamp", "@message", "@logStream", "@log")
TIME_FIELDS = frozenset({"@timestamp", "@ingestionTime"})


@dataclass(frozen=True, slots=True)
class Outcome:
    rows: list[list[dict[str, str]]]
    matched: int
    scanned: int
    scanned_bytes: int


def run(commands: list[Any], records: Iterable[Record], default_limit: int) -> Outcome:
    visible: list[str] | None = None
    time_columns = set(TIME_FIELDS)
    rows: list[Record] = []
    scanned = scanned_bytes = 0
    per_record, rest = _split(commands)
    for record in records:
        scanned += 1
        scanned_bytes += len(record["@message"].encode("utf-8", "replace"))
        if _apply(per_record, record):
            rows.append(record)
    matched = len(rows)
    aggregated = False
    for command in per_record:
        if isinstance(command, Projection):
            visible = _visible(visible, command)
    limit = default_limit
    for command in rest:
        if isinstance(command, Stats):
            rows, names, bins = _stats(command, rows)
            visible, aggregated = names, True
            time_columns |= bins
        elif isinstance(command, Filter):
            rows = [r for r in rows if truthy(evaluate(command.condition, r))]
        elif isinstance(command, Projection):
            for r in rows:
                _project(command, r)
            visible = _visible(visible, command)
        elif isinstance(command, Parse):
            rows = [r for r in rows if _parse(command, r) or True]
        elif isinstance(command, Sort):
            rows = _sorted(rows, command)
        elif isinstance(command, Limit):
            limit = command.count
            rows = rows[:limit]
        elif isinstance(command, Dedup):
            rows = _dedup(rows, command)
    columns = visible if visible is not None else list(DEFAULT_FIELDS)
    if not aggregated and not any(isinstance(c, Sort) for c in commands):
        rows.sort(key=lambda r: r["@timestamp"], reverse=True)
    out = []
    for r in rows[:limit]:
        cells = [
            {"field": name, "value": _text(r[name], name in time_columns)}
            for name in columns
            if r.get(name) is not None
        ]
        if not aggregated and "@ptr" in r:
            cells.append({"field": "@ptr", "value": r["@ptr"]})
        out.append(cells)
    return Outcome(out, matched, scanned, scanned_bytes)


def _split(commands: list[Any]) -> tuple[list[Any], list[Any]]:
    """The leading commands that act on one event at a time, and the rest."""
    for i, command in enumerate(commands):
        if isinstance(command, Stats | Sort | Limit | Dedup):
            return commands[:i], commands[i:]
    return commands, []


def _apply(commands: list[Any], record: Record) -> bool:
    for command in commands:
        if isinstance(command, Filter):
            if not truthy(evaluate(command.condition, record)):
                return False
        elif isinstance(command, Parse):
            _parse(command, record)
        elif isinstance(command, Projection):
            _project(command, record)
    return True


def _project(command: Projection, record: Record) -> None:
    if command.display:
        return
    for name, expr in command.items:
        record[name] = evaluate(expr, record)


def _visible(visible: list[str] | None, command: Projection) -> list[str]:
    names = [name for name, _ in command.items]
    if command.display:
        return names
    return [*(visible or []), *(n for n in names if n not in (visible or []))]


def _parse(command: Parse, record: Record) -> bool:
    source = record.get(command.source)
    if source is None:
        return False
    m = command.pattern.search(str(source))
    if m is None:
        return False
    for i, name in enumerate(command.names):
        record[name] = m.group(f"g{i}") if command.positional else m.group(name)
    return True


def _stats(command: Stats, rows: list[Record]) -> tuple[list[Record], list[str], set[str]]:
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for r in rows:
        key = tuple(_hashable(evaluate(expr, r)) for _, expr in command.groups)
        groups.setdefault(key, []).append(r)
    if not command.groups and not groups:
        groups[()] = []
    out = []
    for key, members in groups.items():
        row: Record = {name: value for (name, _), value in zip(command.groups, key, strict=True)}
        for name, call in command.aggregates:
            row[name] = aggregate(call, members)
        out.append(row)
    bins = {name for name, expr in command.groups if isinstance(expr, Call) and expr.name == "bin"}
    if bins:
        first = next(iter(sorted(bins)))
        out.sort(key=lambda r: r.get(first) or 0)
    names = [name for name, _ in command.groups] + [name for name, _ in command.aggregates]
    return out, names, bins


def aggregate(call: Call, rows: list[Record]) -> Any:
    if call.name == "count":
        if call.star or not call.args:
            return len(rows)
        return sum(1 for r in rows if evaluate(call.args[0], r) is not None)
    if not call.args:
        raise MalformedQueryException(f"{call.name}() needs a field")
    values = [evaluate(call.args[0], r) for r in rows]
    if call.name == "count_distinct":
        return len({_hashable(v) for v in values if v is not None})
    if call.name in ("earliest", "latest"):
        present = [(r["@timestamp"], v) for r, v in zip(rows, values, strict=True) if v is not None]
        if not present:
            return None
        pick = min if call.name == "earliest" else max
        return pick(present, key=lambda p: p[0])[1]
    numbers = sorted(n for v in values if (n := number(v)) is not None)
    if not numbers:
        return None
    if call.name == "sum":
        return sum(numbers)
    if call.name == "avg":
        return sum(numbers) / len(numbers)
    if call.name == "min":
        return numbers[0]
    if call.name == "max":
        return numbers[-1]
    if call.name == "stddev":
        return statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    if call.name == "pct":
        if len(call.args) != 2 or number(evaluate(call.args[1], {})) is None:
            raise MalformedQueryException("pct() takes a field and a percentile")
        p = number(evaluate(call.args[1], {})) or 0.0
        rank = max(1, math.ceil(p / 100 * len(numbers)))
        return numbers[min(rank, len(numbers)) - 1]
    raise MalformedQueryException(f"unknown aggregate {call.name}()")


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _sorted(rows: list[Record], command: Sort) -> list[Record]:
    out = rows[:]
    for name, descending in reversed(command.keys):
        present = [r for r in out if r.get(name) is not None]
        missing = [r for r in out if r.get(name) is None]
        present.sort(key=functools.partial(_field_key, name), reverse=descending)
        out = present + missing
    return out


def _field_key(name: str, record: Record) -> tuple[int, Any]:
    return _sort_key(record[name])


def _sort_key(value: Any) -> tuple[int, Any]:
    n = number(value)
    return (0, n) if n is not None else (1, str(value))


def _dedup(rows: list[Record], command: Dedup) -> list[Record]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in rows:
        key = tuple(_hashable(r.get(n)) for n in command.names)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _text(value: Any, is_time: bool) -> str:
    if is_time and isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def pointer(event_id: int) -> str:
    """The opaque ``@ptr`` of an event."""
    return base64.urlsafe_b64encode(str(event_id).encode()).decode().rstrip("=")
