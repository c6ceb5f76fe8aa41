"""Function URLs in front of the API port: which requests go to the URL door (one of
the port's front doors, ``model.front_door``)."""

from __future__ import annotations

from lambdad.events.function_urls import FunctionUrlDoor, Response
from lambdad.model import peer
from lambdad.model.function_url import MAX_REQUEST_BODY, UrlAddress, address

# The source address of a request whose client is unknown (driven without the API port).
LOOPBACK = "127.0.0.1"


class UrlRoute:
    """Function URLs as a front door (``model.front_door``): a request addressed to a
    URL (``model.function_url.address``: by ``Host`` first, path second) may send up to
    a URL's 6 MB unsigned."""

    def __init__(self, door: FunctionUrlDoor) -> None:
        self.door = door

    def claim(self, method: str, path: str, host: str | None) -> UrlAddress | None:
        return address(path, host)

    def body_limit(self, claim: UrlAddress, headers: list[tuple[str, str]]) -> int:
        # One byte over the limit is read, so that the door answers 413 itself.
        return MAX_REQUEST_BODY + 1

    async def answer(
        self,
        claim: UrlAddress,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        client = peer.CLIENT.get()
        return await self.door.respond(
            claim, method, path, query, headers, body, source_ip=client or LOOPBACK
        )
