"""A connection upgrade on the API port: who takes over a connection after its HTTP
request (API Gateway's WebSocket APIs), in types both sides share.

The connection protocol (``api/http.py``) asks an ``Upgrader`` to ``claim`` a request
that asks for ``Upgrade: websocket`` once its head is in (cheap: every such request
asks); a claimed request is then ``accept``-ed in its turn: the answer is either an
HTTP response (a refusal, sent as any other, after which the connection closes) or a
``Takeover``, which the protocol calls with the connection's transport, the bytes the
client sent after the request, and a callback the new protocol calls once when the
connection is gone (the port's connection count and shutdown list are released by
it). Any other upgrade is answered as plain HTTP, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

Response = tuple[int, list[tuple[bytes, bytes]], bytes]
Headers = list[tuple[str, str]]


# (transport, bytes read past the request, gone) -> the connection's new protocol (its
# ``shutdown()``, if it has one, is called at server shutdown)
Takeover = Callable[[asyncio.Transport, bytes, Callable[[], None]], "asyncio.Protocol"]


class Upgrader(Protocol):
    def claim(self, path: str, headers: Headers) -> Any | None:
        """What the upgrade request addresses (None: not this upgrader's)."""
        ...

    async def accept(
        self, claim: Any, path: str, query: str, headers: Headers, client: str | None
    ) -> Response | Takeover:
        """The refusal to send, or the protocol to hand the connection to."""
        ...


def wants_websocket(headers: Headers) -> bool:
    """Whether a request asks to upgrade to WebSocket (``Upgrade: websocket``)."""
    for name, value in headers:
        if name == "upgrade" and any(
            token.strip().lower() == "websocket" for token in value.split(",")
        ):
            return True
    return False
