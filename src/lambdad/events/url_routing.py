"""Function URLs in front of the API port: which requests go to the URL door.

The API port's connection protocol (``api/http.py``) hands every complete request to
one responder, and asks one gate how much body a request may send before reading it.
``route_urls`` and ``admit_urls`` wrap the API's own: a request addressed to a URL
(``model.function_url.address``: by ``Host`` first, path second) goes to the door
before any SigV4 handling, and may send up to a URL's 6 MB unsigned; every other
request goes on to the API unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lambdad.events.function_urls import FunctionUrlDoor, Response
from lambdad.model import peer
from lambdad.model.function_url import MAX_REQUEST_BODY, address

# The source address of a request whose client is unknown (driven without the API port).
LOOPBACK = "127.0.0.1"
# (method, raw path, raw query, (lower-case name, value) headers, body) -> the answer
Responder = Callable[[str, str, str, list[tuple[str, str]], bytes], Awaitable[Response]]
# (method, raw path, raw query, headers) -> an answer now, or the most body to read
Gate = Callable[[str, str, str, list[tuple[str, str]]], "Response | int"]


def _host(headers: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in headers if name == "host"), None)


def route_urls(door: FunctionUrlDoor, api: Responder) -> Responder:
    async def respond(
        method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        target = address(path, _host(headers))
        if target is None:
            return await api(method, path, query, headers, body)
        client = peer.CLIENT.get()
        return await door.respond(
            target, method, path, query, headers, body, source_ip=client or LOOPBACK
        )

    return respond


def admit_urls(api: Gate) -> Gate:
    def admit(method: str, path: str, query: str, headers: list[tuple[str, str]]) -> Response | int:
        if address(path, _host(headers)) is not None:
            # One byte over the limit is read, so that the door answers 413 itself.
            return MAX_REQUEST_BODY + 1
        return api(method, path, query, headers)

    return admit
