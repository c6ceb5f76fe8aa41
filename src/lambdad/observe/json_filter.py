"""CloudWatch Logs filter patterns for JSON log events: ``{ $.level = "ERROR" }``.

The metric filter and subscription syntax AWS documents: selectors (``$.a.b``,
``$.list[0]``), comparisons ``=`` and ``!=`` against strings (``*`` a wildcard,
quotes optional for plain words) and ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` against
numbers, ``IS TRUE``, ``IS FALSE``, ``IS NULL``, ``EXISTS`` and ``NOT EXISTS``, joined
by ``&&`` and ``||`` (``&&`` binds tighter) with parentheses. An event that is not a
JSON object, or lacks a selected member, does not match (but ``NOT EXISTS``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<selector>\$(?:\.[A-Za-z_@][\w@\-]*|\[\d+\]|\.\*)*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w*]))
    | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|\{|\})
    | (?P<word>[^\s()&|=!<>{}"]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()
Matcher = Callable[[Any], bool]


class PatternError(ValueError):
    """The text is not a JSON filter pattern lambdad understands."""


def parse(text: str) -> Matcher:
    """A matcher of JSON documents for ``text`` (PatternError: malformed)."""
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    parser.expect("{")
    matcher = parser.disjunction()
    parser.expect("}")
    if parser.at != len(tokens):
        raise PatternError(f"unexpected {tokens[parser.at][1]!r} after the pattern")
    return matcher


def matches(matcher: Matcher, message: str) -> bool:
    text = message.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return matcher(doc)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text) and text[i:].strip():
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            raise PatternError(f"unexpected character at {text[i:][:20]!r}")
        kind = m.lastgroup or "op"
        tokens.append((kind, m.group(kind)))
        i = m.end()
    return tokens


@dataclass(slots=True)
class _Parser:
    tokens: list[tuple[str, str]]
    at: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def expect(self, text: str) -> None:
        token = self.peek()
        if token is None or token[1] != text:
            raise PatternError(f"expected {text!r}")
        self.at += 1

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token[1] == text:
            self.at += 1
            return True
        return False

    def disjunction(self) -> Matcher:
        options = [self.conjunction()]
        while self.accept("||"):
            options.append(self.conjunction())
        return options[0] if len(options) == 1 else lambda doc: any(m(doc) for m in options)

    def conjunction(self) -> Matcher:
        parts = [self.term()]
        while self.accept("&&"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else lambda doc: all(m(doc) for m in parts)

    def term(self) -> Matcher:
        if self.accept("("):
            inner = self.disjunction()
            self.expect(")")
            return inner
        token = self.peek()
        if token is None or token[0] != "selector":
            raise PatternError("expected a selector such as $.field")
        self.at += 1
        path = _path(token[1])
        word = (self.peek() or ("", ""))[1].upper()
        if word in ("IS", "EXISTS", "NOT"):
            return self._predicate(path)
        op_token = self.peek()
        if op_token is None or op_token[0] != "op" or op_token[1] not in _COMPARE:
            raise PatternError(f"expected a comparison after {token[1]}")
        self.at += 1
        value = self.peek()
        if value is None or value[0] not in ("string", "number", "word"):
            raise PatternError(f"expected a value after {op_token[1]}")
        self.at += 1
        return _comparison(path, op_token[1], value)

    def _predicate(self, path: list[str | int]) -> Matcher:
        word = (self.peek() or ("", ""))[1].upper()
        self.at += 1
        if word == "EXISTS":
            return lambda doc: _select(doc, path) is not _MISSING
        if word == "NOT":
            if (self.peek() or ("", ""))[1].upper() != "EXISTS":
                raise PatternError("expected EXISTS after NOT")
            self.at += 1
            return lambda doc: _select(doc, path) is _MISSING
        what = (self.peek() or ("", ""))[1].upper()
        self.at += 1
        expected = {"TRUE": True, "FALSE": False, "NULL": None}
        if what not in expected:
            raise PatternError("expected TRUE, FALSE or NULL after IS")
        want = expected[what]
        return lambda doc: (found := _select(doc, path)) is not _MISSING and found is want


_COMPARE = ("=", "!=", "<", "<=", ">", ">=")


def _path(selector: str) -> list[str | int]:
    out: list[str | int] = []
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", selector):
        out.append(part[0] if part[0] else int(part[1]))
    return out


def _select(doc: Any, path: list[str | int]) -> Any:
    for step in path:
        if isinstance(doc, list) and isinstance(step, int) and step < len(doc):
            doc = doc[step]
            continue
        if isinstance(doc, dict) and isinstance(step, str) and step in doc:
            doc = doc[step]
            continue
        return _MISSING
    return doc


def _comparison(path: list[str | int], op: str, value: tuple[str, str]) -> Matcher:
    kind, text = value
    if kind == "number":
        target = float(text)

        def numeric(doc: Any) -> bool:
            found = _select(doc, path)
            if isinstance(found, bool) or not isinstance(found, int | float):
                return False
            return {
                "=": found == target, "!=": found != target, "<": found < target,
                "<=": found <= target, ">": found > target, ">=": found >= target,
            }[op]  # fmt: skip

        return numeric
    if op not in ("=", "!="):
        raise PatternError(f"{op} compares numbers only")
    literal = json.loads(text) if kind == "string" else text
    pattern = re.compile("^" + ".*".join(re.escape(p) for p in literal.split("*")) + "$", re.S)

    def textual(doc: Any) -> bool:
        found = _select(doc, path)
        if found is _MISSING or isinstance(found, dict | list):
            return False
        rendered = json.dumps(found) if not isinstance(found, str) else found
        equal = pattern.match(rendered) is not None
        return equal if op == "=" else not equal

    return textual
