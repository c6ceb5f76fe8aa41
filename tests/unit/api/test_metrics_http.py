from __future__ import annotations

import asyncio

from lambdad.api.metrics_http import MetricsRoute
from lambdad.model.front_door import front

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


async def api(
    method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
) -> Response:
    return 418, [], b"api"


async def scrape() -> bytes:
    return b"# metrics\n"


def call(
    token: str, method: str, path: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    respond, _ = front([MetricsRoute(scrape, token)], api, _refuse)
    return asyncio.run(respond(method, path, "", headers or [], b""))


def test_open_scrape_and_everything_else_goes_on() -> None:
    status, headers, body = call("", "GET", "/metrics")
    assert (status, body) == (200, b"# metrics\n")
    assert dict(headers)[b"content-type"].startswith(b"text/plain; version=0.0.4")
    assert call("", "GET", "/metrics?x=1")[0] == 200
    assert call("", "GET", "/metricsx")[2] == b"api"
    assert call("", "GET", "/2015-03-31/functions")[2] == b"api"
    assert call("", "POST", "/metrics")[0] == 405


def test_a_token_is_asked_for_when_set() -> None:
    assert call("tok", "GET", "/metrics")[0] == 401
    assert call("tok", "GET", "/metrics", [("authorization", "Bearer nope")])[0] == 401
    assert call("tok", "GET", "/metrics", [("authorization", "Basic tok")])[0] == 401
    assert call("tok", "GET", "/metrics", [("authorization", "Bearer tok")])[0] == 200


def _refuse(method: str, path: str, query: str, headers: list[tuple[str, str]]) -> Response | int:
    return 403, [], b"denied"


def test_the_gate_lets_a_scrape_in_unsigned() -> None:
    _, admit = front([MetricsRoute(scrape, "")], api, _refuse)
    assert admit("GET", "/metrics", "", []) == 1024
    assert admit("GET", "/other", "", []) == (403, [], b"denied")
