"""The function URL door without a server: routing in front of the API, the admission
limit, authorization decisions and CORS."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from lambdad.clock import Clock
from lambdad.errors import ResourceNotFoundException
from lambdad.events.function_urls import FunctionUrlDoor, Response
from lambdad.events.http import cors
from lambdad.events.http.request import HttpRequest, IamCaller
from lambdad.events.url_auth import UrlAuthorizer
from lambdad.events.url_cache import UrlCache
from lambdad.events.url_routing import UrlRoute
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model import peer, policy
from lambdad.model.changes import ChangeHub
from lambdad.model.front_door import front
from lambdad.model.function_url import MAX_REQUEST_BODY, Cors, UrlConfig
from lambdad.model.scope import Scope

ID = "abcdefghijklmnopqrstuvwxyz012345"
HOST = f"{ID}.lambda-url.us-east-1.localhost:9550"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class _Clock(Clock):
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return 0.0


class _Configs:
    def __init__(self, config: UrlConfig) -> None:
        self.config = config

    def config_for(self, url_id: str) -> UrlConfig | None:
        return self.config if url_id == self.config.url_id else None


class _Invoker:
    def __init__(self) -> None:
        self.requests: list[InvokeRequest] = []

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        self.requests.append(req)
        return InvokeResponse(200, b'{"ok":true}', "$LATEST")


class _Policies:
    def __init__(self, statements: list[dict[str, Any]]) -> None:
        self.statements = statements

    def get_policy(self, scope: Scope, name: str, qualifier: str | None) -> dict[str, Any]:
        if not self.statements:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return {"Policy": json.dumps(policy.document(self.statements))}


def _public(auth_type: str = "NONE") -> list[dict[str, Any]]:
    resource = "arn:aws:lambda:us-east-1:111111111111:function:f"
    params = {"StatementId": "u", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
              "FunctionUrlAuthType": auth_type}  # fmt: skip
    invoke = {"StatementId": "i", "Action": "lambda:InvokeFunction", "Principal": "*",
              "InvokedViaFunctionUrl": True}  # fmt: skip
    return [policy.function_statement(p, resource) for p in (params, invoke)]


def _config(auth_type: str = "NONE", cors_settings: Cors | None = None) -> UrlConfig:
    return UrlConfig(ID, "111111111111", "us-east-1", "f", None, auth_type, cors=cors_settings)


def _door(
    config: UrlConfig, statements: list[dict[str, Any]], signer: IamCaller | None = None
) -> tuple[FunctionUrlDoor, _Invoker]:
    invoker = _Invoker()
    authorizer = UrlAuthorizer(_Policies(statements), lambda *args: signer, UrlCache(ChangeHub()))
    return FunctionUrlDoor(_Configs(config), invoker, authorizer, _Clock(), port=9550), invoker


async def _api(method: str, path: str, query: str, headers: Any, body: bytes) -> Response:
    return 418, [], b"api"


def _call(door: FunctionUrlDoor, path: str, host: str = HOST, method: str = "GET",
          headers: tuple[tuple[str, str], ...] = ()) -> Response:  # fmt: skip
    respond, _ = front([UrlRoute(door)], _api, lambda *args: 0)
    return asyncio.run(respond(method, path, "", [("host", host), *headers], b""))


def test_urls_go_to_the_door_and_the_rest_to_the_api() -> None:
    door, invoker = _door(_config(), _public())
    assert _call(door, "/2015-03-31/functions", host="127.0.0.1:9550")[2] == b"api"
    assert _call(door, "/x")[:1] == (200,)
    status, _, body = _call(door, f"/lambda-url/{ID}/y", host="127.0.0.1:9550")
    assert (status, body) == (200, b'{"ok":true}')
    event = json.loads(invoker.requests[-1].payload)
    assert event["rawPath"] == "/y"
    assert invoker.requests[-1].scope == Scope("111111111111", "us-east-1")


def test_source_ip_is_the_connections_client() -> None:
    door, invoker = _door(_config(), _public())
    assert _call(door, f"/lambda-url/{ID}/")[0] == 200  # driven directly: loopback
    token = peer.CLIENT.set("203.0.113.7")
    try:
        assert _call(door, f"/lambda-url/{ID}/")[0] == 200
    finally:
        peer.CLIENT.reset(token)
    first, second = (json.loads(r.payload)["requestContext"]["http"] for r in invoker.requests)
    assert (first["sourceIp"], second["sourceIp"]) == ("127.0.0.1", "203.0.113.7")


def test_unknown_url_and_wrong_region_are_404() -> None:
    door, _ = _door(_config(), _public())
    assert _call(door, "/", host=HOST.replace("abc", "abd"))[0] == 404
    assert _call(door, "/", host=HOST.replace("us-east-1", "eu-west-1"))[0] == 404


def test_authorization() -> None:
    assert _call(_door(_config(), [])[0], "/")[0] == 403
    assert _call(_door(_config(), _public("AWS_IAM"))[0], "/")[0] == 403
    assert _call(_door(_config("AWS_IAM"), [])[0], "/")[0] == 403
    mine = IamCaller("AK", "111111111111", "111111111111", "arn", "111111111111")
    assert _call(_door(_config("AWS_IAM"), [], mine)[0], "/")[0] == 200
    other = IamCaller("AK2", "222222222222", "222222222222", "arn", "222222222222")
    assert _call(_door(_config("AWS_IAM"), [], other)[0], "/")[0] == 403
    assert _call(_door(_config("AWS_IAM"), _public("AWS_IAM"), other)[0], "/")[0] == 200


def test_unsigned_url_requests_pass_the_gate_with_their_own_limit() -> None:
    def api_gate(method: str, path: str, query: str, headers: Any) -> Response | int:
        return 403, [], b"unsigned"

    _, gate = front([UrlRoute(_door(_config(), _public())[0])], _api, api_gate)
    assert gate("POST", "/x", "", [("host", HOST)]) == MAX_REQUEST_BODY + 1
    assert gate("POST", "/2015-03-31/functions", "", [("host", "127.0.0.1")])[0] == 403  # type: ignore[index]


def _request(method: str, **headers: str) -> HttpRequest:
    return HttpRequest(method, "/", "", tuple(headers.items()), b"", "127.0.0.1", NOW, "r", "d")


def test_cors_preflight_and_response_headers() -> None:
    settings = Cors(allow_origins=("https://a.example",), allow_methods=("GET",), max_age=5,
                    expose_headers=("x-e",), allow_credentials=True)  # fmt: skip
    pre = _request(
        "OPTIONS", origin="https://A.example", **{"access-control-request-method": "GET"}
    )
    assert cors.is_preflight(pre)
    answer = cors.preflight(settings, pre)
    assert answer.header_values("Access-Control-Allow-Origin") == ["https://A.example"]
    assert answer.header_values("Access-Control-Max-Age") == ["5"]
    assert answer.header_values("Access-Control-Allow-Credentials") == ["true"]
    assert not cors.is_preflight(_request("OPTIONS", origin="https://a.example"))

    door, invoker = _door(_config(cors_settings=settings), _public())
    status, headers, _ = _call(
        door, "/", method="OPTIONS",
        headers=(("origin", "https://a.example"), ("access-control-request-method", "GET")),
    )  # fmt: skip
    assert status == 200
    assert (b"access-control-allow-methods", b"GET") in headers
    assert invoker.requests == []  # the function is not invoked for a preflight
    _, headers, _ = _call(door, "/", headers=(("origin", "https://evil.example"),))
    assert not any(k.startswith(b"access-control-") for k, _ in headers)
