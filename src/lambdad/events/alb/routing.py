"""Load balancers in front of the API port (a front door, ``model.front_door``): a
request whose ``Host`` names a balancer (``names.host_address``) goes to the door
before any SigV4 handling, with up to the 1 MB body a Lambda target takes (one byte
more, so the door answers 413 itself)."""

from __future__ import annotations

from typing import Any

from lambdad.events.alb.door import LoadBalancerDoor
from lambdad.events.alb.names import host_address
from lambdad.events.function_urls import Response
from lambdad.events.http.alb import MAX_REQUEST_BODY_BYTES
from lambdad.events.url_routing import LOOPBACK
from lambdad.model import peer


class BalancerRoute:
    def __init__(self, door: LoadBalancerDoor) -> None:
        self.door = door

    def claim(self, method: str, path: str, host: str | None) -> Any | None:
        return host_address(host)

    def body_limit(self, claim: Any, headers: list[tuple[str, str]]) -> int:
        return MAX_REQUEST_BODY_BYTES + 1

    async def answer(
        self,
        claim: Any,
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
