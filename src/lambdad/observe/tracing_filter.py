"""X-Ray filter expressions, the basics (pure): terms joined by ``AND``.

Terms: ``service("name")`` (also ``service(id(name: "name"))``); ``fault``, ``error``,
``throttle`` (optionally ``= true``/``= false``, or with ``!`` before them);
``duration`` and ``responsetime`` compared (``<``, ``<=``, ``>``, ``>=``, ``=``, ``!=``)
with a number of seconds; ``http.status = 500``; ``annotation.KEY = "value"`` (or a
number or boolean). Anything else is ``FilterError`` (the API's InvalidRequestException).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

Summary = dict[str, Any]
Predicate = Callable[[Summary], bool]


class FilterError(ValueError):
    pass


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt, "=": operator.eq,
}  # fmt: skip
_SERVICE = re.compile(r'service\(\s*(?:id\(\s*name:\s*)?"([^"]*)"\s*\)?\s*\)')
_FLAG = re.compile(r"(!?)(fault|error|throttle)(?:\s*=\s*(true|false))?")
_COMPARE = re.compile(r'(duration|responsetime|http\.status|annotation\.[\w.-]+)\s*'
                      r'(<=|>=|!=|<|>|=)\s*("[^"]*"|true|false|-?[\d.]+)')  # fmt: skip
_AND = re.compile(r"\s+(?:AND|and)\s+|\s*&&\s*")
_FLAGS = {"fault": "HasFault", "error": "HasError", "throttle": "HasThrottle"}


def compile_filter(expression: str | None) -> Predicate:
    if not expression or not expression.strip():
        return lambda _s: True
    predicates = [_term(t.strip()) for t in _AND.split(expression.strip())]
    return lambda s: all(p(s) for p in predicates)


def _term(text: str) -> Predicate:
    if m := _SERVICE.fullmatch(text):
        name = m.group(1)
        return lambda s: any(name in svc.get("Names", ()) for svc in s.get("ServiceIds", ()))
    if m := _FLAG.fullmatch(text):
        field = _FLAGS[m.group(2)]
        wanted = (m.group(3) != "false") != bool(m.group(1))
        return lambda s: bool(s.get(field)) == wanted
    if m := _COMPARE.fullmatch(text):
        key, op, raw = m.group(1), _OPS[m.group(2)], m.group(3)
        value = _literal(raw)
        if key in ("duration", "responsetime"):
            field = "Duration" if key == "duration" else "ResponseTime"
            return lambda s: _compare(op, s.get(field), value)
        if key == "http.status":
            return lambda s: _compare(op, (s.get("Http") or {}).get("HttpStatus"), value)
        name = key.removeprefix("annotation.")
        return lambda s: any(
            _compare(op, _annotation(a), value) for a in (s.get("Annotations") or {}).get(name, ())
        )
    raise FilterError(f"Invalid filter expression: {text!r}")


def _literal(raw: str) -> Any:
    if raw.startswith('"'):
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return float(raw)
    except ValueError:
        raise FilterError(f"Invalid number: {raw!r}") from None


def _annotation(entry: dict[str, Any]) -> Any:
    value = entry.get("AnnotationValue") or {}
    return next(iter(value.values()), None)


def _compare(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is None:
        return False
    try:
        return op(left, right)
    except TypeError:
        return False
