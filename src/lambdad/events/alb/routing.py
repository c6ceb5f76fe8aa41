"""Load balancers in front of the API port: a request whose ``Host`` names a balancer
(``names.host_address``) goes to the door before any SigV4 handling, with up to the
1 MB body a Lambda target takes (one byte more, so the door answers 413 itself)."""

from __future__ import annotations

from lambdad.events.alb.door import LoadBalancerDoor
from lambdad.events.alb.names import host_address
from lambdad.events.function_urls import Response
from lambdad.events.http.alb import MAX_REQUEST_BODY_BYTES
from lambdad.events.url_routing import LOOPBACK, Gate, Responder
from lambdad.model import peer


def _host(headers: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in headers if name == "host"), None)


def route_balancers(door: LoadBalancerDoor, inner: Responder) -> Responder:
    async def respond(
        method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        target = host_address(_host(headers))
        if target is None:
            return await inner(method, path, query, headers, body)
        client = peer.CLIENT.get()
        return await door.respond(
            target, method, path, query, headers, body, source_ip=client or LOOPBACK
        )

    return respond


def admit_balancers(inner: Gate) -> Gate:
    def admit(method: str, path: str, query: str, headers: list[tuple[str, str]]) -> Response | int:
        if host_address(_host(headers)) is not None:
            return MAX_REQUEST_BODY_BYTES + 1
        return inner(method, path, query, headers)

    return admit
