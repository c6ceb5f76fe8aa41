"""CloudWatch Logs filter patterns: parse once, match many.

The supported subset is what people type at ``aws logs tail --filter-pattern`` and
``FilterLogEvents``: terms, quoted phrases, ``?`` alternatives and ``-`` exclusions
for text, and JSON patterns (``{ $.level = "ERROR" }``, ``observe/json_filter``).
Anything else (space-delimited or regex patterns) is refused with
``InvalidParameterException``: matching everything instead would be a silent lie.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.observe import json_filter
from lambdad.observe.log_shapes import InvalidParameterException


@dataclass(frozen=True, slots=True)
class FilterPattern:
    """The unstructured-text subset of CloudWatch's filter pattern syntax.

    ``ERROR timeout`` (every term), ``"exact phrase"``, ``?ERROR ?WARN`` (any of
    them), ``-DEBUG`` (none of them); matching is case-sensitive substring search, as
    CloudWatch's. JSON (``{ $.x = 1 }``), space-delimited (``[a, b]``) and regex
    (``%...%``) patterns are refused rather than silently matching everything.
    """

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    structured: json_filter.Matcher | None = None

    @classmethod
    def parse(cls, text: str | None) -> FilterPattern:
        if text is None or not text.strip():
            return cls()
        s = text.strip()
        if s[0] == "{":
            try:
                return cls(structured=json_filter.parse(s))
            except json_filter.PatternError as exc:
                raise InvalidParameterException(
                    f"Invalid filter pattern: {text!r}: {exc}"
                ) from None
        if s[0] in "[%$":
            raise _unsupported_pattern(text)
        terms: dict[str, list[str]] = {"": [], "?": [], "-": []}
        i, n = 0, len(s)
        while i < n:
            if s[i].isspace():
                i += 1
                continue
            kind = ""
            if s[i] in "?-" and i + 1 < n and not s[i + 1].isspace():
                kind = s[i]
                i += 1
            if s[i] == '"':
                term, i = _quoted(s, i, text)
            else:
                j = i
                while j < n and not s[j].isspace():
                    j += 1
                term, i = s[i:j], j
                if any(c in term for c in '"{}[]%=<>'):
                    raise _unsupported_pattern(text)
            if term:
                terms[kind].append(term)
        return cls(tuple(terms[""]), tuple(terms["?"]), tuple(terms["-"]))

    @property
    def matches_all(self) -> bool:
        return not (self.required or self.optional or self.excluded or self.structured)

    def matches(self, message: str) -> bool:
        if self.structured is not None:
            return json_filter.matches(self.structured, message)
        return (
            all(t in message for t in self.required)
            and (not self.optional or any(t in message for t in self.optional))
            and not any(t in message for t in self.excluded)
        )


def _quoted(s: str, start: int, text: str) -> tuple[str, int]:
    """The phrase opened by the quote at ``start``, and the index after it."""
    out: list[str] = []
    j = start + 1
    while j < len(s) and s[j] != '"':
        if s[j] == "\\" and j + 1 < len(s):
            j += 1
        out.append(s[j])
        j += 1
    if j >= len(s) or (j + 1 < len(s) and not s[j + 1].isspace()):
        raise _unsupported_pattern(text)
    return "".join(out), j + 1


def _unsupported_pattern(text: str) -> InvalidParameterException:
    return InvalidParameterException(
        f'Invalid filter pattern: {text!r}. lambdad supports terms, "quoted phrases", '
        "?alternatives, -exclusions and JSON patterns; space-delimited and regex "
        "patterns are not supported."
    )
