"""API Gateway in front of the API port: which requests go to the API Gateway door.

As ``events.url_routing`` does for function URLs: a request addressed to an API
(``names.address``: by ``Host`` first, path second) goes to the door before any SigV4
handling, and may send up to API Gateway's 10 MB unsigned; every other request goes
on unchanged.
"""

from __future__ import annotations

from lambdad.events.apigw.door import ApiGatewayDoor
from lambdad.events.apigw.names import MAX_REQUEST_BODY, address
from lambdad.events.function_urls import Response
from lambdad.events.url_routing import LOOPBACK, Gate, Responder
from lambdad.model import peer


def _host(headers: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in headers if name == "host"), None)


def route_apis(door: ApiGatewayDoor, inner: Responder) -> Responder:
    async def respond(
        method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        target = address(path, _host(headers))
        if target is None:
            return await inner(method, path, query, headers, body)
        client = peer.CLIENT.get()
        return await door.respond(
            target, method, query, headers, body, source_ip=client or LOOPBACK, wire_path=path
        )

    return respond


def admit_apis(inner: Gate) -> Gate:
    def admit(method: str, path: str, query: str, headers: list[tuple[str, str]]) -> Response | int:
        if address(path, _host(headers)) is not None:
            # One byte over the limit is read, so that the door answers 413 itself.
            return MAX_REQUEST_BODY + 1
        return inner(method, path, query, headers)

    return admit
