"""CloudWatch Logs Insights queries: the tokens and the commands they make.

The subset parsed is what people write against Lambda's logs: ``fields`` (with
expressions and ``as``), ``display``, ``filter``, ``parse`` (a glob pattern with
``*`` placeholders, or a regular expression with named groups), ``stats`` (aggregates,
``as``, ``by`` fields and ``bin(…)``), ``sort``, ``limit`` and ``dedup``, commands
joined by ``|``. Expressions: field names (``@message``, ``level``, ``a.b``,
`` `odd name` ``), numbers, strings, ``/regex/``, arithmetic, comparisons, ``like``,
``=~``, ``in [...]``, ``and``/``or``/``not``, and function calls. A query outside the
subset is refused with ``MalformedQueryException``, never half-run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lambdad.errors import AwsError


class MalformedQueryException(AwsError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<backquoted>`[^`]*`)
    | (?P<number>\d+(?:\.\d+)?(?:ms|s|m|h|d|w|mo|q|y)?(?![\w@]))
    | (?P<name>[@A-Za-z_][\w@.]*(?<!\.))
    | (?P<op>!=|<=|>=|=~|[=<>+\-*/%|,()\[\]])
    )""",
    re.VERBOSE,
)
_REGEX = re.compile(r"\s*/((?:[^/\\]|\\.)*)/([a-z]*)")
_KEYWORDS = frozenset({"and", "or", "not", "like", "in", "as", "by", "asc", "desc"})
COMMANDS = frozenset({"fields", "display", "filter", "parse", "stats", "sort", "limit", "dedup"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string, name, number, op, regex, keyword
    text: str
    value: Any = None


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        if query[i:].strip() == "":
            break
        if _regex_allowed(tokens):
            m = _REGEX.match(query, i)
            if m:
                tokens.append(Token("regex", m.group(0).strip(), _compile(m.group(1), m.group(2))))
                i = m.end()
                continue
        m = _TOKEN.match(query, i)
        if m is None or m.end() == i:
            raise MalformedQueryException(f"unexpected character at {query[i:][:20]!r}")
        kind = m.lastgroup or "op"
        text = m.group(kind)
        if kind == "string":
            tokens.append(Token("string", text, _unquote(text[1:-1])))
        elif kind == "backquoted":
            tokens.append(Token("name", text, text[1:-1]))
        elif kind == "name" and text.lower() in _KEYWORDS:
            tokens.append(Token("keyword", text.lower()))
        elif kind == "name":
            tokens.append(Token("name", text, text))
        else:
            tokens.append(Token(kind, text))
        i = m.end()
    return tokens


def _regex_allowed(tokens: list[Token]) -> bool:
    """Whether a ``/`` here opens a regular expression rather than dividing."""
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "keyword" and last.text in ("like", "in", "and", "or", "not"):
        return True
    if last.kind == "op" and last.text in ("=~", "(", ",", "[", "|", "="):
        return True
    # ``parse FIELD /regex/``
    return len(tokens) >= 2 and tokens[-2].kind == "name" and tokens[-2].text == "parse"


def _compile(pattern: str, flags: str) -> re.Pattern[str]:
    value = 0
    if "i" in flags:
        value |= re.IGNORECASE
    try:
        # Insights (Java) spells named groups (?<name>…); Python wants (?P<name>…).
        return re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern), value)
    except re.error as exc:
        raise MalformedQueryException(f"invalid regular expression /{pattern}/: {exc}") from None


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


# -- the expression tree ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Any, ...]
    star: bool = False  # count(*)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not", "-"
    operand: Any


@dataclass(frozen=True, slots=True)
class InList:
    operand: Any
    values: tuple[Any, ...]


# -- commands ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Projection:
    """``fields`` (expressions with names) or ``display`` (names only)."""

    items: tuple[tuple[str, Any], ...]
    display: bool = False


@dataclass(frozen=True, slots=True)
class Filter:
    condition: Any


@dataclass(frozen=True, slots=True)
class Parse:
    """``parse``: ``names`` filled from the pattern's groups (``positional``: a glob's,
    group ``g<i>`` fills ``names[i]``; else a regex's groups by name)."""

    source: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    positional: bool = False


@dataclass(frozen=True, slots=True)
class Stats:
    aggregates: tuple[tuple[str, Call], ...]
    groups: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Sort:
    keys: tuple[tuple[str, bool], ...]  # (name, descending)


@dataclass(frozen=True, slots=True)
class Limit:
    count: int


@dataclass(frozen=True, slots=True)
class Dedup:
    names: tuple[str, ...]
