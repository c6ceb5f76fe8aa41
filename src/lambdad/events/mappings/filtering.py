"""A mapping's ``FilterCriteria``: a record goes to the function when any filter's
pattern matches the view of it the poller builds (events' one pattern matcher)."""

from __future__ import annotations

import json

from lambdad.events.patterns import EventPattern, InvalidEventPattern, compile_pattern


def check_pattern(text: str) -> None:
    """For the control plane: ValueError when ``text`` is not a valid filter pattern."""
    try:
        compile_pattern(text)
    except (InvalidEventPattern, ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def json_or_text(data: str | bytes) -> object:
    """A body or record data as AWS filters it: its JSON value when it is JSON, else the
    text itself (only string patterns can match it then)."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


class MappingFilter:
    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._patterns: tuple[EventPattern, ...] = tuple(compile_pattern(p) for p in patterns)

    @property
    def empty(self) -> bool:
        return not self._patterns

    def matches(self, view: object) -> bool:
        return not self._patterns or any(p.matches(view) for p in self._patterns)
