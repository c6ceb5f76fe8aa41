"""The comparison operators of event patterns: what each accepts, and how it is written.

One ``ValueMatcher`` per operator AWS documents ("Comparison operators for use in event
patterns" in the EventBridge guide): exact values, ``prefix``/``suffix`` (optionally
``equals-ignore-case``), ``equals-ignore-case``, ``wildcard``, ``numeric``, ``cidr``,
``anything-but`` and ``exists``. Each is a frozen value that answers ``accepts(leaf)`` for
one present leaf value of an event; ``parse_match_expression`` turns the JSON object that
spells an operator into one, refusing bad spellings with event-ruler's reasons (the engine
EventBridge runs). The structure around them (objects, arrays, ``$or``) lives in
``lambdad.events.patterns``, the module callers use.

Wildcards are matched without backtracking: the literal pieces between ``*`` are found
left to right, O(len(value) * len(pattern)) at worst, so no pattern can make a match slow.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final, Protocol, TypeAlias

from lambdad.errors import LambdadError

_NUMERIC_OPERATORS: Final = frozenset({"=", "<", "<=", ">", ">="})
# event-ruler only treats strings of these shapes as IP addresses.
_IPV4_SHAPE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidEventPattern(LambdadError):
    """A pattern AWS would refuse; ``reason`` is the part after "Reason: "."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason

    @property
    def message(self) -> str:
        """EventBridge's ``InvalidEventPatternException`` message."""
        return str(self)


class JsonNumber(str):
    """The literal text of a number in a pattern decoded from JSON (kept for messages)."""

    __slots__ = ()


def is_number(value: object) -> bool:
    """Whether an event value is a JSON number (booleans are not)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def exact_decimal(value: object) -> Decimal:
    """The exact value of an event number (int, float or Decimal)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # repr is the shortest text that round-trips: the number the JSON text meant.
        return Decimal(repr(value))
    assert isinstance(value, int)
    return Decimal(value)


def comparable(value: Decimal) -> float | None:
    """The double equal to ``value``, or None when no double represents it exactly.

    event-ruler compares numbers as IEEE-754 binary64 and refuses ("Cannot compare
    number") any number a double would round.
    """
    if not value.is_finite():
        return None
    as_float = float(value)
    if math.isinf(as_float) or Decimal(repr(as_float)) != value:
        return None
    return as_float


def fold(text: str) -> str:
    """Case-fold one character at a time (length-preserving, like event-ruler's)."""
    if text.isascii():
        return text.lower()
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


def parse_ip(text: str) -> IPAddress | None:
    """The IP address ``text`` spells, if it has the shape event-ruler treats as one."""
    if not (_IPV4_SHAPE.fullmatch(text) or _IPV6_SHAPE.fullmatch(text)):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --- value matchers ----------------------------------------------------------------------


class ValueMatcher(Protocol):
    """One alternative in a field's list: does it accept this present leaf value?"""

    def accepts(self, value: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class ExactString:
    text: str
    # A pattern string that is an IP address also matches other spellings of it.
    ip: IPAddress | None = None

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return value == self.text or (self.ip is not None and parse_ip(value) == self.ip)


@dataclass(frozen=True, slots=True)
class ExactNumber:
    value: Decimal

    def accepts(self, value: object) -> bool:
        return is_number(value) and exact_decimal(value) == self.value


@dataclass(frozen=True, slots=True)
class ExactLiteral:
    """``true``, ``false`` or ``null``."""

    value: bool | None

    def accepts(self, value: object) -> bool:
        if self.value is None:
            return value is None
        return isinstance(value, bool) and value is self.value


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str  # folded when ignore_case
    ignore_case: bool = False

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return (fold(value) if self.ignore_case else value).startswith(self.text)


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str  # folded when ignore_case
    ignore_case: bool = False

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return (fold(value) if self.ignore_case else value).endswith(self.text)


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str  # folded

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and fold(value) == self.text


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``*`` matches any run of characters; ``pieces`` are the literals between them."""

    pieces: tuple[str, ...]

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        pieces = self.pieces
        if len(pieces) == 1:
            return value == pieces[0]
        first, last = pieces[0], pieces[-1]
        if len(value) < len(first) + len(last):
            return False
        if not (value.startswith(first) and value.endswith(last)):
            return False
        # Leftmost placement of each middle piece is always safe for '*'-only globs, so
        # one forward scan decides: no backtracking, no exponential blow-up.
        position, end = len(first), len(value) - len(last)
        for piece in pieces[1:-1]:
            found = value.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


@dataclass(frozen=True, slots=True)
class Numeric:
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False

    def accepts(self, value: object) -> bool:
        if not is_number(value):
            return False
        number = comparable(exact_decimal(value))
        if number is None:
            return False
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return False
        return self.high is None or not (
            number > self.high or (self.high_open and number == self.high)
        )


@dataclass(frozen=True, slots=True)
class Cidr:
    network: IPNetwork

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        address = parse_ip(value)
        return address is not None and address in self.network


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """Any present leaf value that none of ``excluded`` accepts."""

    excluded: tuple[ValueMatcher, ...]

    def accepts(self, value: object) -> bool:
        return not any(matcher.accepts(value) for matcher in self.excluded)


@dataclass(frozen=True, slots=True)
class Exists:
    """``exists: true`` / ``exists: false``: decided on the field, not on one value."""

    present: bool

    def accepts(self, value: object) -> bool:
        return self.present


# --- spelling: JSON match expressions -> matchers ---------------------------------------


def token_text(value: object) -> str:
    """How event-ruler's messages print a JSON token."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "{"
    if isinstance(value, list | tuple):
        return "["
    return str(value)


def number_text(value: object) -> str | None:
    """The text of a pattern number, or None when ``value`` is not a number."""
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, bool) or not is_number(value):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return repr(value)
    return str(value)


def is_string(value: object) -> bool:
    return isinstance(value, str) and not isinstance(value, JsonNumber)


def _only_key(expression: Mapping[object, object], message: str) -> None:
    if len(expression) > 1:
        raise InvalidEventPattern(message)


_ONE_KEY: Final = "Only one key allowed in match expression"
_TOO_MANY_NUMERIC: Final = "Too many elements in numeric expression"


def parse_match_expression(expression: Mapping[object, object]) -> ValueMatcher:
    if not expression:
        raise InvalidEventPattern("Match expression name not found")
    name, argument = next(iter(expression.items()))
    matcher: ValueMatcher
    extra_keys_message = _ONE_KEY
    if name == "exactly":
        if not is_string(argument):
            raise InvalidEventPattern("exact match pattern must be a string")
        assert isinstance(argument, str)
        matcher = ExactString(argument)
    elif name in ("prefix", "suffix"):
        matcher = _parse_affix(str(name), argument)
    elif name == "numeric":
        matcher = _parse_numeric(argument)
        extra_keys_message = _TOO_MANY_NUMERIC
    elif name == "anything-but":
        matcher = _parse_anything_but(argument)
        extra_keys_message = _TOO_MANY_NUMERIC
    elif name == "exists":
        if not isinstance(argument, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.")
        matcher = Exists(argument)
    elif name == "cidr":
        if not is_string(argument):
            raise InvalidEventPattern("prefix match pattern must be a string")
        assert isinstance(argument, str)
        matcher = Cidr(_parse_cidr(argument))
    elif name == "equals-ignore-case":
        if not is_string(argument):
            raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
        assert isinstance(argument, str)
        matcher = EqualsIgnoreCase(fold(argument))
    elif name == "wildcard":
        if not is_string(argument):
            raise InvalidEventPattern("wildcard match pattern must be a string")
        assert isinstance(argument, str)
        matcher = Wildcard(_parse_wildcard(argument))
    else:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    _only_key(expression, extra_keys_message)
    return matcher


def _parse_affix(kind: str, argument: object) -> ValueMatcher:
    label = kind.capitalize()
    ignore_case = False
    if isinstance(argument, Mapping):
        if not argument:
            raise InvalidEventPattern(f"{label} expression name not found")
        inner_name, inner = next(iter(argument.items()))
        if inner_name != "equals-ignore-case":
            raise InvalidEventPattern(f"Unsupported {kind} pattern: {inner_name}")
        if not is_string(inner):
            raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
        _only_key(argument, _ONE_KEY)
        argument, ignore_case = inner, True
    elif not is_string(argument):
        raise InvalidEventPattern(f"{kind} match pattern must be a string")
    assert isinstance(argument, str)
    text = fold(argument) if ignore_case else argument
    return Prefix(text, ignore_case) if kind == "prefix" else Suffix(text, ignore_case)


def _parse_numeric(argument: object) -> Numeric:
    if not isinstance(argument, list | tuple):
        raise InvalidEventPattern("Value of numeric must be an array.")
    terms = list(argument)
    if not terms or not is_string(terms[0]):
        shown = token_text(terms[0]) if terms else "]"
        raise InvalidEventPattern(f"Invalid member in numeric match: {shown}")
    operator = str(terms[0])
    if operator not in _NUMERIC_OPERATORS:
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")
    first = _numeric_operand(terms, 1, "equals" if operator == "=" else operator)
    if operator in ("=", "<", "<="):
        if len(terms) > 2:
            raise InvalidEventPattern(_TOO_MANY_NUMERIC)
        if operator == "=":
            return Numeric(low=first, high=first)
        return Numeric(high=first, high_open=operator == "<")
    if len(terms) == 2:
        return Numeric(low=first, low_open=operator == ">")
    if not is_string(terms[2]):
        raise InvalidEventPattern(f"Bad value in numeric range: {token_text(terms[2])}")
    top_operator = str(terms[2])
    if top_operator not in ("<", "<="):
        raise InvalidEventPattern(f"Bad numeric range operator: {top_operator}")
    top = _numeric_operand(terms, 3, top_operator)
    if len(terms) > 4:
        raise InvalidEventPattern("Too many terms in numeric range expression")
    if not first < top:
        raise InvalidEventPattern("Bottom must be less than top")
    return Numeric(low=first, low_open=operator == ">", high=top, high_open=top_operator == "<")


def _numeric_operand(terms: list[object], index: int, operator: str) -> float:
    text = number_text(terms[index]) if index < len(terms) else None
    if text is None:
        raise InvalidEventPattern(f"Value of {operator} must be numeric")
    return _comparable_or_refuse(text)


def _comparable_or_refuse(text: str) -> float:
    try:
        number = comparable(Decimal(text))
    except InvalidOperation:
        number = None
    if number is None:
        raise InvalidEventPattern(f"Cannot compare number : {text}")
    return number


def _parse_anything_but(argument: object) -> AnythingBut:
    if isinstance(argument, Mapping):
        if not argument:
            raise InvalidEventPattern("Anything-But expression name not found")
        kind, inner = next(iter(argument.items()))
        if kind not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {kind}")
        if not (isinstance(inner, list | tuple) or is_string(inner) or number_text(inner)):
            raise InvalidEventPattern(
                "Value of anything-but must be an array or single string/number value."
            )
        texts = list(inner) if isinstance(inner, list | tuple) else [inner]
        excluded = tuple(_anything_but_set_member(str(kind), text) for text in texts)
        _only_key(argument, _TOO_MANY_NUMERIC)
        return AnythingBut(excluded)
    if isinstance(argument, list | tuple):
        members: list[ValueMatcher] = []
        has_string = has_number = False
        for value in argument:
            number = number_text(value)
            if number is not None:
                _comparable_or_refuse(number)
                members.append(ExactNumber(Decimal(number)))
                has_number = True
            elif isinstance(value, str):
                members.append(ExactString(value))
                has_string = True
            else:
                raise InvalidEventPattern(
                    "Inside anything but list, start|null|boolean is not supported."
                )
        if has_string == has_number:
            raise InvalidEventPattern(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        return AnythingBut(tuple(members))
    number = number_text(argument)
    if number is not None:
        _comparable_or_refuse(number)
        return AnythingBut((ExactNumber(Decimal(number)),))
    if isinstance(argument, str):
        return AnythingBut((ExactString(argument),))
    raise InvalidEventPattern(
        "Value of anything-but must be an array or single string/number value."
    )


def _anything_but_set_member(kind: str, value: object) -> ValueMatcher:
    if not is_string(value):
        if kind == "equals-ignore-case":
            raise InvalidEventPattern(
                "Inside anything-but/equals-ignore-case list, "
                "number|start|null|boolean is not supported."
            )
        if kind == "wildcard":
            raise InvalidEventPattern("wildcard match pattern must be a string")
        raise InvalidEventPattern("prefix/suffix match pattern must be a string")
    assert isinstance(value, str)
    if kind == "equals-ignore-case":
        return EqualsIgnoreCase(fold(value))
    if kind == "wildcard":
        return Wildcard(_parse_wildcard(value))
    if not value:
        raise InvalidEventPattern("Null prefix/suffix not allowed")
    return Prefix(value) if kind == "prefix" else Suffix(value)


def _parse_wildcard(text: str) -> tuple[str, ...]:
    """Split a wildcard on unescaped ``*``; ``\\*`` is a star, ``\\\\`` a backslash.

    Positions in messages are UTF-8 byte offsets in the quoted string, as event-ruler's.
    """
    pieces: list[str] = []
    current: list[str] = []
    position = 1  # the opening quote event-ruler puts first
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if index + 1 < len(text) and text[index + 1] == "*":
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {position}")
            pieces.append("".join(current))
            current = []
        elif char == "\\":
            following = text[index + 1] if index + 1 < len(text) else ""
            if following not in ("*", "\\"):
                raise InvalidEventPattern(f"Invalid escape character at pos {position}")
            current.append(following)
            index += 1
            position += 1
        else:
            current.append(char)
        position += len(char.encode("utf-8", "surrogatepass"))
        index += 1
    pieces.append("".join(current))
    return tuple(pieces)


def _parse_cidr(text: str) -> IPNetwork:
    parts = text.split("/")
    while len(parts) > 1 and not parts[-1]:
        parts.pop()  # Java's split drops trailing empty strings
    if len(parts) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    address_text, mask_text = parts
    if not re.fullmatch(r"[+-]?[0-9]+", mask_text):
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer")
    mask = int(mask_text)
    if mask < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    if not (_IPV4_SHAPE.fullmatch(address_text) or _IPV6_SHAPE.fullmatch(address_text)):
        raise InvalidEventPattern(f"Nonstandard IP address: {address_text}")
    address = parse_ip(address_text)
    if address is None:
        raise InvalidEventPattern(f"Invalid IP address: {address_text}")
    # event-ruler's limits: a /32 (or /128) is written as the plain address instead.
    if address.version == 4 and mask > 31:
        raise InvalidEventPattern("IPv4 mask bits must be < 32")
    if address.version == 6 and mask > 127:
        raise InvalidEventPattern("IPv6 mask bits must be < 128")
    return ipaddress.ip_network((address, mask), strict=False)
