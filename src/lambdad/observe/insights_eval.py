"""The fields of a log event as Logs Insights sees them, and expressions over them.

Every event has ``@timestamp``, ``@message``, ``@logStream``, ``@log`` and
``@ingestionTime``. Discovered as CloudWatch discovers them: the members of a JSON
message (nested ones as ``a.b``, array items as ``a.0``), and for Lambda's platform
lines ``@type`` and ``@requestId``, with a REPORT's ``@duration``, ``@billedDuration``
(ms), ``@memorySize`` and ``@maxMemoryUsed`` (bytes: MB times 1,000,000, as CloudWatch
counts them) and ``@initDuration``; the JSON ``platform.report`` record gives the same.

Values follow Insights' loose typing: a missing field is None and makes comparisons
false and arithmetic None; text that reads as a number compares as one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from lambdad.observe.insights_syntax import (
    Binary,
    Call,
    Field,
    InList,
    Literal,
    MalformedQueryException,
    Unary,
)

Record = dict[str, Any]

_REPORT = re.compile(
    r"REPORT RequestId: (?P<id>\S+)\s+Duration: (?P<duration>[\d.]+) ms\s+"
    r"Billed Duration: (?P<billed>\d+) ms\s+Memory Size: (?P<size>\d+) MB\s+"
    r"Max Memory Used: (?P<used>\d+) MB(?:\s+Init Duration: (?P<init>[\d.]+) ms)?"
)
_START_END = re.compile(r"(?P<type>START|END) RequestId: (?P<id>\S+)")
_MB = 1000 * 1000
_MAX_DEPTH = 8
UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}


def record_of(timestamp: int, message: str, stream: str, group: str, ingested: int) -> Record:
    """An event with its discovered fields."""
    record: Record = {
        "@timestamp": timestamp,
        "@message": message,
        "@logStream": stream,
        "@log": group,
        "@ingestionTime": ingested,
    }
    text = message.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            _flatten(doc, "", record, 0)
            if doc.get("type") == "platform.report" and isinstance(doc.get("record"), dict):
                _platform_report(doc["record"], record)
        return record
    m = _REPORT.match(text)
    if m is not None:
        record.update({
            "@type": "REPORT",
            "@requestId": m.group("id"),
            "@duration": float(m.group("duration")),
            "@billedDuration": int(m.group("billed")),
            "@memorySize": int(m.group("size")) * _MB,
            "@maxMemoryUsed": int(m.group("used")) * _MB,
        })  # fmt: skip
        if m.group("init"):
            record["@initDuration"] = float(m.group("init"))
        return record
    m = _START_END.match(text)
    if m is not None:
        record["@type"], record["@requestId"] = m.group("type"), m.group("id")
    return record


def _flatten(value: Any, prefix: str, into: Record, depth: int) -> None:
    if isinstance(value, dict) and depth < _MAX_DEPTH:
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", into, depth + 1)
        return
    if isinstance(value, list) and depth < _MAX_DEPTH:
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}{i}.", into, depth + 1)
        return
    name = prefix[:-1]
    if name and name not in into:
        into[name] = value


def _platform_report(record: dict[str, Any], into: Record) -> None:
    metrics = record.get("metrics") or {}
    into["@type"] = "REPORT"
    into["@requestId"] = record.get("requestId")
    for source, target, scale in (
        ("durationMs", "@duration", 1),
        ("billedDurationMs", "@billedDuration", 1),
        ("memorySizeMB", "@memorySize", _MB),
        ("maxMemoryUsedMB", "@maxMemoryUsed", _MB),
        ("initDurationMs", "@initDuration", 1),
    ):
        if isinstance(metrics.get(source), int | float):
            into[target] = metrics[source] * scale


# -- expressions ------------------------------------------------------------------------


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def evaluate(node: Any, record: Record) -> Any:
    if isinstance(node, Field):
        return record.get(node.name)
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Binary):
        return _binary(node, record)
    if isinstance(node, Unary):
        value = evaluate(node.operand, record)
        if node.op == "not":
            return not truthy(value)
        n = number(value)
        return None if n is None else -n
    if isinstance(node, InList):
        value = evaluate(node.operand, record)
        return any(_equal(value, evaluate(v, record)) for v in node.values)
    if isinstance(node, Call):
        function = SCALARS.get(node.name)
        if function is None:
            raise MalformedQueryException(f"unknown function {node.name}()")
        return function(record, *(evaluate(a, record) for a in node.args))
    raise MalformedQueryException(f"cannot evaluate {node!r}")


def truthy(value: Any) -> bool:
    return value is not None and value is not False and value != ""


def _equal(a: Any, b: Any) -> bool:
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return x == y
    return a is not None and b is not None and str(a) == str(b)


def _binary(node: Binary, record: Record) -> Any:
    if node.op == "and":
        return truthy(evaluate(node.left, record)) and truthy(evaluate(node.right, record))
    if node.op == "or":
        return truthy(evaluate(node.left, record)) or truthy(evaluate(node.right, record))
    left, right = evaluate(node.left, record), evaluate(node.right, record)
    if node.op == "like":
        if left is None:
            return False
        if isinstance(right, re.Pattern):
            return right.search(str(left)) is not None
        return str(right) in str(left)
    if node.op == "=":
        return _equal(left, right)
    if node.op == "!=":
        return left is not None and not _equal(left, right)
    x, y = number(left), number(right)
    if node.op in ("<", "<=", ">", ">="):
        if x is None or y is None:
            if left is None or right is None:
                return False
            a, b = str(left), str(right)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[node.op]
    if x is None or y is None:
        return None
    if node.op == "+":
        return x + y
    if node.op == "-":
        return x - y
    if node.op == "*":
        return x * y
    if node.op in ("/", "%"):
        if y == 0:
            return None
        return x / y if node.op == "/" else math.fmod(x, y)
    raise MalformedQueryException(f"unknown operator {node.op}")


def period_ms(value: Any) -> int:
    """``bin``'s period: a duration literal (``5m``) or a number of seconds."""
    if isinstance(value, tuple):
        amount, unit = value
        if unit not in UNITS_MS:
            raise MalformedQueryException(f"unknown time unit {unit!r}")
        return max(1, int(amount * UNITS_MS[unit]))
    n = number(value)
    if n is None or n <= 0:
        raise MalformedQueryException("bin() needs a period such as 5m")
    return int(n * 1000)


def _bin(record: Record, period: Any) -> int:
    step = period_ms(period)
    return int(record["@timestamp"]) // step * step


def _text(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda _record, value, *rest: None if value is None else fn(str(value), *rest)


def _substr(text: str, start: Any, length: Any = None) -> str:
    tail = text[int(number(start) or 0) :]
    return tail if length is None else tail[: int(number(length) or 0)]


def _replace(text: str, old: Any, new: Any) -> str:
    return text.replace(str(old), str(new))


def _numeric(fn: Callable[[float], Any]) -> Callable[..., Any]:
    def apply(_record: Record, value: Any) -> Any:
        n = number(value)
        return None if n is None else fn(n)

    return apply


SCALARS: dict[str, Callable[..., Any]] = {
    "ispresent": lambda _r, v: v is not None,
    "isempty": lambda _r, v: v is None or v == "",
    "isblank": lambda _r, v: v is None or str(v).strip() == "",
    "coalesce": lambda _r, *vs: next((v for v in vs if v is not None), None),
    "concat": lambda _r, *vs: "".join("" if v is None else str(v) for v in vs),
    "strlen": _text(len),
    "tolower": _text(str.lower),
    "toupper": _text(str.upper),
    "trim": _text(str.strip),
    "strcontains": lambda _r, v, sub: v is not None and str(sub) in str(v),
    "replace": _text(_replace),
    "substr": _text(_substr),
    "abs": _numeric(abs),
    "ceil": _numeric(math.ceil),
    "floor": _numeric(math.floor),
    "sqrt": _numeric(lambda n: math.sqrt(n) if n >= 0 else None),
    "greatest": lambda _r, *vs: max((n for v in vs if (n := number(v)) is not None), default=None),
    "least": lambda _r, *vs: min((n for v in vs if (n := number(v)) is not None), default=None),
    "bin": _bin,
    "datefloor": lambda _r, ts, period: (
        None
        if number(ts) is None
        else int(number(ts) or 0) // period_ms(period) * period_ms(period)
    ),
}
