"""Which route a request matches, as API Gateway chooses (pure).

A route is a method (``ANY`` matches every method) and a path template of literal
segments, ``{name}`` segments (one segment each) and, last only, a greedy
``{name+}`` (one or more segments). HTTP APIs also have ``$default``, which catches
what no other route matches. REST API methods are the same routes under another
name: each resource path with each of its methods.

The order (API Gateway Developer Guide, "Working with routes for HTTP APIs"): a full
match of route and method first, then a greedy path variable, then ``$default``; and
among several matches the most specific: segment by segment from the left a literal
beats ``{name}``, which beats ``{name+}``; then a method beats ``ANY``. Path
parameter values are taken as sent (still percent-encoded).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

ANY: Final = "ANY"
DEFAULT_ROUTE: Final = "$default"
_LITERAL, _PARAM, _GREEDY = 2, 1, 0


@dataclass(frozen=True, slots=True)
class RouteKey:
    """A parsed route key: ``method`` and the template's ``segments``."""

    key: str
    method: str
    segments: tuple[str, ...]

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments)


@dataclass(frozen=True, slots=True)
class Match:
    """The route a request matched (by its id) and the values its variables bound."""

    route_id: str
    route_key: str
    path_parameters: Mapping[str, str]


@functools.lru_cache(maxsize=4096)  # each request matches its API's keys: parsed once
def parse_route_key(key: str) -> RouteKey | None:
    """``GET /pets/{id}`` parsed, or None when it is not a valid route key (``$default``
    is valid and has no method)."""
    if key == DEFAULT_ROUTE:
        return RouteKey(key, "", ())
    method, space, path = key.partition(" ")
    if not space or not method.isalpha() or method.upper() != method:
        return None
    if not path.startswith("/") or "//" in path or " " in path:
        return None
    segments = tuple(s for s in path.split("/")[1:] if s) if path != "/" else ()
    if path != "/" and path.endswith("/"):
        return None
    for i, segment in enumerate(segments):
        if "{" in segment or "}" in segment:
            if not (segment.startswith("{") and segment.endswith("}")) or len(segment) < 3:
                return None
            if segment.endswith("+}") and i != len(segments) - 1:
                return None
    return RouteKey(key, method, segments)


def _bind(route: RouteKey, parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, segment in enumerate(route.segments):
        if segment.endswith("+}") and segment.startswith("{"):
            rest = parts[i:]
            if not rest or not any(rest):
                return None
            params[segment[1:-2]] = "/".join(rest)
            return params
        if i >= len(parts):
            return None
        if segment.startswith("{"):
            if not parts[i]:
                return None
            params[segment[1:-1]] = parts[i]
        elif segment != parts[i]:
            return None
    return params if len(parts) == len(route.segments) else None


def _rank(route: RouteKey) -> tuple[int, tuple[int, ...], int]:
    kinds = tuple(
        _GREEDY
        if s.endswith("+}") and s.startswith("{")
        else _PARAM
        if s.startswith("{")
        else _LITERAL
        for s in route.segments
    )
    return (0 if route.greedy else 1, kinds, 0 if route.method == ANY else 1)


def match(routes: Iterable[tuple[str, RouteKey]], method: str, raw_path: str) -> Match | None:
    """The best route for ``method raw_path`` among ``(route id, key)`` pairs, else the
    ``$default`` route, else None."""
    parts = raw_path.split("/")[1:] if raw_path != "/" else []
    if parts and parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]  # a trailing slash addresses the same resource
    best: tuple[tuple[int, tuple[int, ...], int], Match] | None = None
    fallback: Match | None = None
    for route_id, route in routes:
        if route.key == DEFAULT_ROUTE:
            fallback = Match(route_id, route.key, {})
            continue
        if route.method not in (ANY, method):
            continue
        params = _bind(route, parts)
        if params is None:
            continue
        rank = _rank(route)
        if best is None or rank > best[0]:
            best = (rank, Match(route_id, route.key, params))
    return best[1] if best is not None else fallback
