"""``GET /metrics`` on the API port: the Prometheus exposition, before any SigV4.

One of the port's front doors (``model.front_door``), as function URLs are. Open
unless the operator sets a bearer token (``LAMBDAD_METRICS_TOKEN``); then a scrape
without ``Authorization: Bearer <token>`` gets 401. Never to a function's relay
(``endpoints.is_relayed``): 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from lambdad.model import peer
from lambdad.model.endpoints import is_relayed
from lambdad.observe.prometheus_export import CONTENT_TYPE

PATH = "/metrics"
Response = tuple[int, list[tuple[bytes, bytes]], bytes]
# A scrape sends no body worth reading.
_SCRAPE_BODY = 1024


def _is_scrape(path: str) -> bool:
    return path.partition("?")[0] == PATH


def _authorized(token: str, headers: list[tuple[str, str]]) -> bool:
    if not token:
        return True
    given = next((v for k, v in headers if k == "authorization"), "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


class MetricsRoute:
    """``/metrics`` as a front door (``model.front_door``)."""

    def __init__(self, scrape: Callable[[], Awaitable[bytes]], token: str) -> None:
        self.scrape = scrape
        self.token = token

    def claim(self, method: str, path: str, host: str | None) -> str | None:
        return PATH if _is_scrape(path) else None

    def body_limit(self, claim: str, headers: list[tuple[str, str]]) -> int:
        return _SCRAPE_BODY

    async def answer(
        self,
        claim: str,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        if is_relayed(peer.CLIENT.get()):
            # A function's relay (model/endpoints.py): the operator's metrics are not its.
            return 403, [(b"content-type", b"text/plain")], b"forbidden\n"
        if method not in ("GET", "HEAD"):
            return 405, [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain")], b"GET only\n"
        if not _authorized(self.token, headers):
            return (
                401,
                [
                    (b"www-authenticate", b'Bearer realm="lambdad"'),
                    (b"content-type", b"text/plain"),
                ],
                b"unauthorized\n",
            )
        out = await self.scrape()
        return 200, [(b"content-type", CONTENT_TYPE.encode())], b"" if method == "HEAD" else out
