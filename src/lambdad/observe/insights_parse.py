"""Parsing a Logs Insights query into its commands (``insights_syntax`` has the tree).

A recursive-descent parser over the tokens, one method per grammar rule; a command is
everything up to the next ``|`` at the top level.
"""

from __future__ import annotations

import re
from typing import Any

from lambdad.observe.insights_syntax import (
    COMMANDS,
    Binary,
    Call,
    Dedup,
    Field,
    Filter,
    InList,
    Limit,
    Literal,
    MalformedQueryException,
    Parse,
    Projection,
    Sort,
    Stats,
    Token,
    Unary,
    tokenize,
)

AGGREGATES = frozenset(
    {"count", "count_distinct", "sum", "avg", "min", "max", "pct", "stddev", "earliest", "latest"}
)
MAX_QUERY_LENGTH = 10000
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


def parse_query(text: str) -> list[Any]:
    """The commands of ``text`` (MalformedQueryException: outside the subset)."""
    if not text.strip():
        raise MalformedQueryException("The query is empty.")
    if len(text) > MAX_QUERY_LENGTH:
        raise MalformedQueryException(f"The query is longer than {MAX_QUERY_LENGTH} characters.")
    parser = _Parser(tokenize(text))
    commands = [parser.command()]
    while parser.take("op", "|"):
        commands.append(parser.command())
    if parser.peek() is not None:
        raise MalformedQueryException(f"unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    return commands


def expression_text(node: Any) -> str:
    """An expression as Insights names its result column (``count(*)``, ``a + b``)."""
    if isinstance(node, Field):
        return node.name
    if isinstance(node, Literal):
        if isinstance(node.value, tuple):  # a duration: 5m
            return f"{node.value[0]}{node.value[1]}"
        return repr(node.value) if isinstance(node.value, str) else str(node.value)
    if isinstance(node, Call):
        inner = "*" if node.star else ", ".join(expression_text(a) for a in node.args)
        return f"{node.name}({inner})"
    if isinstance(node, Binary):
        return f"{expression_text(node.left)} {node.op} {expression_text(node.right)}"
    if isinstance(node, Unary):
        return f"{node.op} {expression_text(node.operand)}"
    return str(node)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0

    # -- token access --------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token | None:
        i = self.at + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> Token | None:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            return None
        self.at += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.take(kind, text)
        if token is None:
            found = self.peek()
            raise MalformedQueryException(
                f"expected {text or kind}, found {found.text if found else 'the end'!r}"
            )
        return token

    def name(self) -> str:
        return str(self.expect("name").value)

    # -- commands ------------------------------------------------------------------------

    def command(self) -> Any:
        word = self.expect("name").text.lower()
        if word not in COMMANDS:
            raise MalformedQueryException(f"unknown command {word!r}")
        return getattr(self, f"_{word}")()

    def _fields(self) -> Projection:
        items = []
        while True:
            expr = self.expression()
            alias = self.name() if self.take("keyword", "as") else expression_text(expr)
            items.append((alias, expr))
            if not self.take("op", ","):
                return Projection(tuple(items))

    def _display(self) -> Projection:
        names = [self.name()]
        while self.take("op", ","):
            names.append(self.name())
        return Projection(tuple((n, Field(n)) for n in names), display=True)

    def _filter(self) -> Filter:
        return Filter(self.expression())

    def _parse(self) -> Parse:
        source = self.name()
        regex = self.take("regex")
        if regex is not None:
            pattern: re.Pattern[str] = regex.value
            names = tuple(pattern.groupindex)
            if not names:
                raise MalformedQueryException("a parse regular expression needs named groups")
            return Parse(source, pattern, names)
        glob = str(self.expect("string").value)
        self.expect("keyword", "as")
        names_list = [self.name()]
        while self.take("op", ","):
            names_list.append(self.name())
        parts = glob.split("*")
        if len(parts) - 1 != len(names_list):
            raise MalformedQueryException(
                f"the pattern has {len(parts) - 1} placeholders for {len(names_list)} fields"
            )
        pieces = [re.escape(parts[0])]
        for i, part in enumerate(parts[1:]):
            greedy = i == len(names_list) - 1 and part == ""
            pieces.append(f"(?P<g{i}>.*{'' if greedy else '?'})")
            pieces.append(re.escape(part))
        return Parse(source, re.compile("".join(pieces), re.DOTALL), tuple(names_list), True)

    def _stats(self) -> Stats:
        aggregates = []
        while True:
            expr = self.expression()
            if not isinstance(expr, Call) or expr.name not in AGGREGATES:
                raise MalformedQueryException(
                    f"stats needs aggregate functions, found {expression_text(expr)!r}"
                )
            alias = self.name() if self.take("keyword", "as") else expression_text(expr)
            aggregates.append((alias, expr))
            if not self.take("op", ","):
                break
        groups = []
        if self.take("keyword", "by"):
            while True:
                expr = self.expression()
                alias = self.name() if self.take("keyword", "as") else expression_text(expr)
                groups.append((alias, expr))
                if not self.take("op", ","):
                    break
        return Stats(tuple(aggregates), tuple(groups))

    def _sort(self) -> Sort:
        keys = []
        while True:
            name = expression_text(self.expression())
            descending = bool(self.take("keyword", "desc"))
            if not descending:
                self.take("keyword", "asc")
            keys.append((name, descending))
            if not self.take("op", ","):
                return Sort(tuple(keys))

    def _limit(self) -> Limit:
        token = self.expect("number")
        if not token.text.isdigit() or not 1 <= int(token.text) <= 10000:
            raise MalformedQueryException("limit takes a whole number from 1 to 10000")
        return Limit(int(token.text))

    def _dedup(self) -> Dedup:
        names = [self.name()]
        while self.take("op", ","):
            names.append(self.name())
        return Dedup(tuple(names))

    # -- expressions, lowest precedence first ---------------------------------------------

    def expression(self) -> Any:
        left = self._and()
        while self.take("keyword", "or"):
            left = Binary("or", left, self._and())
        return left

    def _and(self) -> Any:
        left = self._not()
        while self.take("keyword", "and"):
            left = Binary("and", left, self._not())
        return left

    def _not(self) -> Any:
        if self.take("keyword", "not"):
            return Unary("not", self._not())
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._sum()
        negated = bool(self.peek() and self.peek().text == "not" and self._negatable())  # type: ignore[union-attr]
        if negated:
            self.at += 1
        if self.take("keyword", "like") or self.take("op", "=~"):
            right = self._sum()
            node: Any = Binary("like", left, right)
        elif self.take("keyword", "in"):
            self.expect("op", "[")
            values = [self._sum()]
            while self.take("op", ","):
                values.append(self._sum())
            self.expect("op", "]")
            node = InList(left, tuple(values))
        else:
            token = self.peek()
            if token is not None and token.kind == "op" and token.text in _COMPARISONS:
                self.at += 1
                return Binary(token.text, left, self._sum())
            return left
        return Unary("not", node) if negated else node

    def _negatable(self) -> bool:
        following = self.peek(1)
        return following is not None and following.text in ("like", "in")

    def _sum(self) -> Any:
        left = self._product()
        while (token := self.take("op", "+") or self.take("op", "-")) is not None:
            left = Binary(token.text, left, self._product())
        return left

    def _product(self) -> Any:
        left = self._unary()
        while (
            token := self.take("op", "*") or self.take("op", "/") or self.take("op", "%")
        ) is not None:
            left = Binary(token.text, left, self._unary())
        return left

    def _unary(self) -> Any:
        if self.take("op", "-"):
            return Unary("-", self._unary())
        return self._primary()

    def _primary(self) -> Any:
        token = self.peek()
        if token is None:
            raise MalformedQueryException("the query ends in the middle of an expression")
        self.at += 1
        if token.kind == "string" or token.kind == "regex":
            return Literal(token.value)
        if token.kind == "number":
            return Literal(_number(token.text))
        if token.kind == "op" and token.text == "(":
            inner = self.expression()
            self.expect("op", ")")
            return inner
        if token.kind == "name":
            if self.take("op", "("):
                return self._call(token.text.lower())
            return Field(str(token.value))
        raise MalformedQueryException(f"unexpected {token.text!r}")

    def _call(self, name: str) -> Call:
        if self.take("op", "*"):
            self.expect("op", ")")
            return Call(name, (), star=True)
        args = []
        if not self.take("op", ")"):
            args.append(self.expression())
            while self.take("op", ","):
                args.append(self.expression())
            self.expect("op", ")")
        return Call(name, tuple(args))


def _number(text: str) -> Any:
    """A number, or a duration (``5m``) as (value, unit) for ``bin``."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", text)
    assert m is not None
    value = float(m.group(1)) if "." in m.group(1) else int(m.group(1))
    return (value, m.group(2)) if m.group(2) else value
