"""Metric math, the basics: ``+ - * /``, parentheses, numbers, query ids, ``[a, b]``
arrays, ``METRICS()``, and ``SUM``/``AVG``/``MIN``/``MAX``/``ABS``.

A time series is {timestamp: value}. Between two series an operator applies at the
timestamps both have (as CloudWatch does); with a number, at every timestamp; a
division by zero leaves the point out. ``SUM([a, b])`` (an array) is a series: the
sum at each timestamp of the series that have one; ``SUM(a)`` (one series) is a
number, the sum of its values. ``evaluate`` raises ``MathError`` with the message
GetMetricData reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Series = dict[int, float]
Value = float | Series | list[Series]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(.))")
_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}
_AGG: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda v: sum(v) / len(v),
    "MIN": min,
    "MAX": max,
}


# CloudWatch's limit on an expression's length.
MAX_EXPRESSION = 2048


class MathError(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    out = []
    for num, name, other in _TOKEN.findall(text):
        tok = num or name or other
        if tok.strip():
            out.append(tok)
    return out


def references(text: str) -> set[str]:
    """The query ids an expression names (lower-case first letter, not functions)."""
    return {t for t in _tokens(text) if t[0].isalpha() and t[0].islower()}


def evaluate(text: str, series: Mapping[str, Series]) -> Value:
    if len(text) > MAX_EXPRESSION:
        raise MathError(f"An expression is at most {MAX_EXPRESSION} characters long")
    parser = _Parser(_tokens(text), series)
    try:
        value = parser.expr()
    except RecursionError:
        raise MathError("The expression is nested too deeply") from None
    if parser.pos != len(parser.toks):
        raise MathError(f"Syntax error in expression {text!r} at {parser.toks[parser.pos]!r}")
    return value


def _binary(op: str, a: Value, b: Value) -> Value:
    f = _OPS[op]
    if isinstance(a, list) or isinstance(b, list):
        raise MathError(f"Operator {op} does not take an array")

    def safe(x: float, y: float) -> float | None:
        try:
            return f(x, y)
        except ZeroDivisionError:
            return None

    if isinstance(a, dict) and isinstance(b, dict):
        pairs = {t: safe(a[t], b[t]) for t in a.keys() & b.keys()}
    elif isinstance(a, dict):
        pairs = {t: safe(v, float(b)) for t, v in a.items()}  # type: ignore[arg-type]
    elif isinstance(b, dict):
        pairs = {t: safe(float(a), v) for t, v in b.items()}
    else:
        r = safe(float(a), float(b))
        if r is None:
            raise MathError("Division by zero")
        return r
    return {t: v for t, v in sorted(pairs.items()) if v is not None}


class _Parser:
    def __init__(self, toks: list[str], series: Mapping[str, Series]) -> None:
        self.toks, self.pos, self.series = toks, 0, series

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise MathError(f"Syntax error: expected {want or 'a value'}")
        self.pos += 1
        return tok

    def expr(self) -> Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = _binary(self.take(), value, self.term())
        return value

    def term(self) -> Value:
        value = self.unary()
        while self.peek() in ("*", "/"):
            value = _binary(self.take(), value, self.unary())
        return value

    def unary(self) -> Value:
        if self.peek() == "-":
            self.take()
            return _binary("*", -1.0, self.unary())
        return self.atom()

    def atom(self) -> Value:
        tok = self.take()
        if tok == "(":
            value = self.expr()
            self.take(")")
            return value
        if tok == "[":
            items = [self.expr()]
            while self.peek() == ",":
                self.take()
                items.append(self.expr())
            self.take("]")
            return [_as_series(i) for i in items]
        if tok[0].isdigit() or tok[0] == ".":
            return float(tok)
        if self.peek() == "(":
            return self.call(tok)
        if tok in self.series:
            return dict(self.series[tok])
        raise MathError(f"Unknown metric id or function: {tok}")

    def call(self, name: str) -> Value:
        self.take("(")
        if name == "METRICS":
            self.take(")")
            return [dict(s) for s in self.series.values()]
        arg = self.expr()
        self.take(")")
        if name == "ABS":
            return (
                _binary("*", arg, 1.0)
                if not isinstance(arg, dict)
                else {t: abs(v) for t, v in arg.items()}
            )
        agg = _AGG.get(name)
        if agg is None:
            raise MathError(f"Unsupported function: {name}")
        if isinstance(arg, list):
            stamps = sorted(set().union(*arg)) if arg else []
            return {t: agg([s[t] for s in arg if t in s]) for t in stamps}
        if isinstance(arg, dict):
            if not arg:
                raise MathError(f"{name} of an empty series")
            return agg(list(arg.values()))
        return arg


def _as_series(v: Value) -> Series:
    if isinstance(v, dict):
        return v
    raise MathError("An array holds time series only")
