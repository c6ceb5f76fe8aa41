"""API Gateway in front of the API port: which requests go to the API Gateway door.

One of the port's front doors (``model.front_door``): a request addressed to an API
(``names.address``: by ``Host`` first, path second) goes to the door before any SigV4
handling, and may send up to API Gateway's 10 MB unsigned.
"""

from __future__ import annotations

from lambdad.events.apigw.door import ApiGatewayDoor
from lambdad.events.apigw.names import MAX_REQUEST_BODY, ApiAddress, address
from lambdad.events.function_urls import Response
from lambdad.events.url_routing import LOOPBACK
from lambdad.model import peer


class ApiRoute:
    def __init__(self, door: ApiGatewayDoor) -> None:
        self.door = door

    def claim(self, method: str, path: str, host: str | None) -> ApiAddress | None:
        return address(path, host)

    def body_limit(self, claim: ApiAddress, headers: list[tuple[str, str]]) -> int:
        # One byte over the limit is read, so that the door answers 413 itself.
        return MAX_REQUEST_BODY + 1

    async def answer(
        self,
        claim: ApiAddress,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        client = peer.CLIENT.get()
        return await self.door.respond(
            claim, method, query, headers, body, source_ip=client or LOOPBACK, wire_path=path
        )
