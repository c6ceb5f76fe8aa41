"""The doors on the API port that answer before any SigV4 handling, in one table.

Function URLs, API Gateway, load balancers, pushed events (SNS, S3 webhooks), the
Prometheus scrape and the web console all share the API's port. The connection
protocol (``api/http.py``) hands every complete request to one responder and asks one
gate how much body a request may send; ``front`` builds both from the doors, in
order: the first door to ``claim`` a request (by its path and ``Host``) answers it and
bounds its body, and every request none claims goes on to the API unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """A gate's verdict: the most body a request may send, and what makes the answer
    (its operation's own) when it sends more: made then only, as few ever do."""

    most: int
    over: Callable[[], Response]


# (method, raw path, raw query, (lower-case name, value) headers, body) -> the answer
Responder = Callable[[str, str, str, list[tuple[str, str]], bytes], Awaitable[Response]]
# (method, raw path, raw query, headers) -> an answer now, or the most body to read
Gate = Callable[[str, str, str, list[tuple[str, str]]], "Response | int | BodyLimit"]
Headers = list[tuple[str, str]]


class FrontDoor(Protocol):
    def claim(self, method: str, path: str, host: str | None) -> Any | None:
        """What the request addresses behind this door (None: not for this door).
        ``path`` is the raw request target; cheap, as every request of the port asks."""
        ...

    def body_limit(self, claim: Any, headers: Headers) -> int:
        """The most body to read (one byte over a door's limit lets it answer 413)."""
        ...

    async def answer(
        self, claim: Any, method: str, path: str, query: str, headers: Headers, body: bytes
    ) -> Response: ...


def addressed(
    path: str, host: str | None, host_form: re.Pattern[str], path_prefix: str, id_length: int
) -> tuple[str, str | None, str] | None:
    """What a request addresses behind a door with ids of ``id_length`` lower-case
    letters and digits: by its ``Host`` first (``host_form`` matches the id, then the
    region), else by a path under ``path_prefix`` (no region). (id, region, the raw path
    after the door's root), or None. ``path`` is the raw request target (a query string
    after ``?`` is ignored)."""
    raw_path = path.split("?", 1)[0]
    if host is not None:
        matched = host_form.fullmatch(host.lower())
        if matched is not None:
            return matched.group(1), matched.group(2), raw_path or "/"
    if not raw_path.startswith(path_prefix):
        return None
    found, slash, rest = raw_path[len(path_prefix) :].partition("/")
    if len(found) != id_length or _ID.fullmatch(found) is None:
        return None
    return found, None, slash + rest if slash else "/"


_ID = re.compile("[a-z0-9]+")


def host_of(headers: Headers) -> str | None:
    return next((value for name, value in headers if name == "host"), None)


def front(doors: Sequence[FrontDoor], api: Responder, gate: Gate) -> tuple[Responder, Gate]:
    """The port's responder and gate: the doors first, then the API's."""
    table = tuple(doors)

    def find(method: str, path: str, headers: Headers) -> tuple[FrontDoor, Any] | None:
        host = host_of(headers)
        for door in table:
            claim = door.claim(method, path, host)
            if claim is not None:
                return door, claim
        return None

    async def respond(
        method: str, path: str, query: str, headers: Headers, body: bytes
    ) -> Response:
        found = find(method, path, headers)
        if found is None:
            return await api(method, path, query, headers, body)
        door, claim = found
        return await door.answer(claim, method, path, query, headers, body)

    def admit(method: str, path: str, query: str, headers: Headers) -> Response | int | BodyLimit:
        found = find(method, path, headers)
        if found is None:
            return gate(method, path, query, headers)
        door, claim = found
        return door.body_limit(claim, headers)

    return respond, admit
