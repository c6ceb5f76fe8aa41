"""Event patterns: the one matcher EventBridge rules and event source mapping filters share.

EventBridge's ``EventPattern`` (``PutRule``, ``TestEventPattern``) and Lambda's
``FilterCriteria.Filters[].Pattern`` are the same language. ``compile_pattern`` parses and
validates a pattern (JSON text or an already-decoded mapping) into a frozen ``EventPattern``;
``EventPattern.matches(event)`` (or ``matches(pattern, event)``) answers whether an event
matches. Pure: no I/O, no clock, no global state beyond a small compile cache.

The reference is the behaviour of AWS's own engine (aws/event-ruler, which EventBridge runs)
and the EventBridge and Lambda user guides:

- a pattern object matches when every field in it matches (AND); the values listed for a
  field are alternatives (OR); ``$or`` lists alternative sub-patterns. The pattern is
  expanded into its ``$or``-free alternatives ("sub-rules") at compile time, as AWS does,
  at most ``MAX_OR_COMBINATIONS`` of them.
- only leaf values (strings, numbers, booleans, null) are matched; an event array matches
  when any of its elements does (arrays of arrays are flattened); an object pattern
  applied to an array of objects must be satisfied by one element as a whole ("array
  consistency": two fields are never taken from two different elements).
- ``exists: false`` holds when the path has no leaf value: the field is missing, is an
  object (an intermediate node), or is an empty array. Applied to an array of objects, a
  sub-pattern that an empty object satisfies (only absences) must hold for every element,
  so ``exists: false`` stays the negation of ``exists: true``.
- numbers compare as numbers (``300``, ``300.0`` and ``3.0e2`` are the same number, as in
  event-ruler, whatever older guides say); ``numeric`` accepts any finite number a binary64
  double represents exactly, as event-ruler does since 2024.
- string operators (``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``,
  ``cidr``) never match numbers, booleans or null; ``anything-but X`` matches a present
  leaf value that ``X`` does not match (so ``anything-but "a"`` matches ``5``).

Errors carry AWS's reasons (event-ruler's wording); ``str(error)`` is EventBridge's
``InvalidEventPatternException`` message. Lambda answers any of them with
``InvalidParameterValueException: Invalid filter pattern definition.`` — callers map.
The operators themselves live in ``lambdad.events.pattern_operators``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from lambdad.events.pattern_operators import (
    ExactLiteral,
    ExactNumber,
    ExactString,
    Exists,
    InvalidEventPattern,
    JsonNumber,
    ValueMatcher,
    number_text,
    parse_ip,
    parse_match_expression,
)

__all__ = [
    "MAX_NESTING_DEPTH",
    "MAX_OR_COMBINATIONS",
    "MAX_PATTERN_LENGTH",
    "EventPattern",
    "InvalidEventPattern",
    "compile_pattern",
    "decode_event",
    "matches",
]

# The API models of both EventBridge (EventPattern) and Lambda (Filter.Pattern): max 4096.
MAX_PATTERN_LENGTH: Final = 4096
# EventBridge guide: "InvalidEventPatternException if the use of $or results in over 1000
# rule combinations" (the product of the sizes of the $or arrays).
MAX_OR_COMBINATIONS: Final = 1000
# AWS documents no nesting limit for event patterns; this is lambdad's own guard against
# recursion, far above any pattern that fits in 4096 characters sensibly.
MAX_NESTING_DEPTH: Final = 64

OR_KEY: Final = "$or"
# event-ruler rejects these as field names inside $or (they look like misplaced operators).
_RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)


# --- values ------------------------------------------------------------------------------


class _Missing:
    """The value of a field the event does not have."""

    __slots__ = ()


_MISSING: Final = _Missing()


def _leaves(value: object) -> list[object]:
    """The leaf values at a path: scalars, and the scalars inside (nested) arrays."""
    if isinstance(value, _Missing | Mapping):
        return []
    if not isinstance(value, list | tuple):
        return [value]
    return [item for item in _flatten_arrays(value) if not isinstance(item, Mapping)]


# --- compiled patterns -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeafRule:
    """A field whose pattern is a list of alternatives."""

    name: str
    alternatives: tuple[ValueMatcher, ...]

    def matches(self, container: Mapping[str, object]) -> bool:
        leaves = _leaves(container.get(self.name, _MISSING))
        for alternative in self.alternatives:
            if isinstance(alternative, Exists):
                if alternative.present == bool(leaves):
                    return True
            elif any(alternative.accepts(leaf) for leaf in leaves):
                return True
        return False


@dataclass(frozen=True, slots=True)
class ObjectRule:
    """An ``$or``-free object pattern: all of ``fields`` must match."""

    fields: tuple[LeafRule | NestedRule, ...]
    # Whether the empty object satisfies this pattern (it asks only for absences).
    satisfied_by_empty: bool

    def matches(self, value: object) -> bool:
        if isinstance(value, list | tuple):
            elements = _flatten_arrays(value)
            if self.satisfied_by_empty:
                return all(self._matches_one(element) for element in elements)
            return any(self._matches_one(element) for element in elements)
        return self._matches_one(value)

    def _matches_one(self, value: object) -> bool:
        container: Mapping[str, object] = value if isinstance(value, Mapping) else {}
        return all(field.matches(container) for field in self.fields)


@dataclass(frozen=True, slots=True)
class NestedRule:
    """A field whose pattern is an object."""

    name: str
    rule: ObjectRule

    def matches(self, container: Mapping[str, object]) -> bool:
        return self.rule.matches(container.get(self.name, _MISSING))


def _flatten_arrays(value: list[object] | tuple[object, ...]) -> list[object]:
    found: list[object] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        else:
            found.append(item)
    return found


@dataclass(frozen=True, slots=True)
class EventPattern:
    """A validated pattern, expanded into its ``$or``-free alternatives."""

    text: str
    alternatives: tuple[ObjectRule, ...]

    def matches(self, event: object) -> bool:
        """Whether ``event`` (a decoded JSON object, or its JSON text) matches."""
        if isinstance(event, str | bytes | bytearray):
            event = decode_event(event)
        if not isinstance(event, Mapping):
            return False  # an event is a JSON object
        return any(rule.matches(event) for rule in self.alternatives)


def decode_event(text: str | bytes | bytearray) -> object:
    """Decode an event's JSON text, keeping every number exact; ValueError if not JSON."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("event is nested too deeply") from None


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def matches(pattern: EventPattern | str | bytes | Mapping[str, object], event: object) -> bool:
    """Whether ``event`` matches ``pattern``; InvalidEventPattern if the pattern is bad."""
    if not isinstance(pattern, EventPattern):
        pattern = compile_pattern(pattern)
    return pattern.matches(event)


def compile_pattern(pattern: str | bytes | bytearray | Mapping[str, object]) -> EventPattern:
    """Parse and validate ``pattern``; raise InvalidEventPattern with AWS's reason."""
    if isinstance(pattern, bytes | bytearray):
        try:
            pattern = pattern.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEventPattern(f"Invalid UTF-8 at byte {exc.start}") from None
    if isinstance(pattern, str):
        return _compile_text(pattern)
    try:
        text = json.dumps(pattern, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError, RecursionError):
        raise InvalidEventPattern(
            "Match value must be String, number, true, false, or null"
        ) from None
    return _compile_tree(pattern, text)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(type(value).__name__)


@functools.lru_cache(maxsize=512)
def _compile_text(text: str) -> EventPattern:
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidEventPattern(
            f"Event pattern is longer than {MAX_PATTERN_LENGTH} characters ({len(text)})"
        )
    try:
        tree = json.loads(
            text,
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise InvalidEventPattern(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise InvalidEventPattern(str(exc)) from None
    except RecursionError:
        raise InvalidEventPattern("Event pattern is nested too deeply") from None
    return _compile_tree(tree, text)


def _compile_tree(tree: object, text: str) -> EventPattern:
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidEventPattern(
            f"Event pattern is longer than {MAX_PATTERN_LENGTH} characters ({len(text)})"
        )
    if not isinstance(tree, Mapping):
        raise InvalidEventPattern("Filter is not an object")
    root = _parse_object(tree, depth=1, inside_or=False)
    combinations = _count(root)
    if combinations > MAX_OR_COMBINATIONS:
        raise InvalidEventPattern(
            f"Rule is too complex: $or expands into at least {combinations} combinations, "
            f"more than {MAX_OR_COMBINATIONS}"
        )
    return EventPattern(text=text, alternatives=tuple(_expand(root)))


# --- parsing: JSON tree -> parsed tree with $or still in place ---------------------------


@dataclass(frozen=True, slots=True)
class _OrGroup:
    branches: tuple[_ParsedObject, ...]


@dataclass(frozen=True, slots=True)
class _ParsedObject:
    items: tuple[LeafRule | tuple[str, _ParsedObject] | _OrGroup, ...]


def _parse_object(obj: Mapping[object, object], depth: int, inside_or: bool) -> _ParsedObject:
    if depth > MAX_NESTING_DEPTH:
        raise InvalidEventPattern(f"Event pattern is nested deeper than {MAX_NESTING_DEPTH} levels")
    items: list[LeafRule | tuple[str, _ParsedObject] | _OrGroup] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise InvalidEventPattern(f"Field names must be strings, not {key!r}")
        if key == OR_KEY:
            items.append(_parse_or(value, depth))
            continue
        if inside_or and key in _RESERVED_IN_OR:
            raise InvalidEventPattern(
                f"{key} is Ruler reserved fieldName which cannot be used inside {OR_KEY}."
            )
        if isinstance(value, Mapping):
            items.append((key, _parse_object(value, depth + 1, inside_or)))
        elif isinstance(value, list | tuple):
            items.append(LeafRule(key, _parse_values(value, depth + 1)))
        else:
            raise InvalidEventPattern(f'"{key}" must be an object or an array')
    if not items:
        raise InvalidEventPattern("Empty objects are not allowed")
    return _ParsedObject(tuple(items))


def _parse_or(value: object, depth: int) -> _OrGroup:
    if not isinstance(value, list | tuple):
        raise InvalidEventPattern(f"It must be an Array followed with {OR_KEY}.")
    branches: list[_ParsedObject] = []
    for branch in value:
        if not isinstance(branch, Mapping):
            raise InvalidEventPattern(
                f"Only JSON object is allowed in array of {OR_KEY} relationship."
            )
        branches.append(_parse_object(branch, depth + 1, inside_or=True))
    if len(branches) < 2:
        raise InvalidEventPattern(f"There must have at least 2 Objects in {OR_KEY} relationship.")
    return _OrGroup(tuple(branches))


def _parse_values(
    values: list[object] | tuple[object, ...], depth: int
) -> tuple[ValueMatcher, ...]:
    matchers: list[ValueMatcher] = []
    for value in values:
        number = number_text(value)
        if number is not None:
            matchers.append(ExactNumber(Decimal(number)))
        elif isinstance(value, str):
            matchers.append(ExactString(value, parse_ip(value)))
        elif value is None or isinstance(value, bool):
            matchers.append(ExactLiteral(value))
        elif isinstance(value, Mapping):
            if depth + 1 > MAX_NESTING_DEPTH:
                raise InvalidEventPattern(
                    f"Event pattern is nested deeper than {MAX_NESTING_DEPTH} levels"
                )
            matchers.append(parse_match_expression(value))
        else:
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
    if not matchers:
        raise InvalidEventPattern("Empty arrays are not allowed")
    return tuple(matchers)


# --- expansion: parsed tree -> $or-free alternatives -------------------------------------


def _count(parsed: _ParsedObject) -> int:
    """How many ``$or``-free alternatives ``parsed`` has (stops counting past the limit)."""
    total = 1
    for item in parsed.items:
        if isinstance(item, _OrGroup):
            total *= sum(_count(branch) for branch in item.branches)
        elif isinstance(item, tuple):
            total *= _count(item[1])
        if total > MAX_OR_COMBINATIONS:
            return total  # stop early: already too many
    return total


def _expand(parsed: _ParsedObject) -> list[ObjectRule]:
    """Every ``$or``-free alternative of ``parsed`` (their count is already bounded)."""
    partials: list[tuple[LeafRule | NestedRule, ...]] = [()]
    for item in parsed.items:
        choices: list[tuple[LeafRule | NestedRule, ...]]
        if isinstance(item, LeafRule):
            choices = [(item,)]
        elif isinstance(item, tuple):
            name, child = item
            choices = [(NestedRule(name, rule),) for rule in _expand(child)]
        else:
            choices = [rule.fields for branch in item.branches for rule in _expand(branch)]
        partials = [partial + choice for partial in partials for choice in choices]
    return [_object_rule(fields) for fields in partials]


def _object_rule(fields: tuple[LeafRule | NestedRule, ...]) -> ObjectRule:
    # Probe with the empty object: does this alternative ask only for absences?
    probe = ObjectRule(fields, satisfied_by_empty=False)
    return ObjectRule(fields, satisfied_by_empty=probe._matches_one({}))
