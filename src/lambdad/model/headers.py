"""HTTP header lists as the wire gives them, indexed by lower-cased name."""

from __future__ import annotations

from collections.abc import Sequence


def index_headers(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Each lower-cased name's values, in the order they came."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        values = by_name.get(key)
        if values is None:
            by_name[key] = [value]
        else:
            values.append(value)
    return by_name
