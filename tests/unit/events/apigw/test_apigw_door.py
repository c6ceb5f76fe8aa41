"""The API Gateway door without a server: APIs made with the control operations, a
fake invoker and fake policies. The events (payload 2.0 and REST 1.0, key by key as
the API Gateway Developer Guide shows them), the permission check with its source
ARN, CORS, and API Gateway's own answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lambdad.errors import TooManyRequestsException
from lambdad.events.apigw.door import ApiGatewayDoor
from lambdad.events.apigw.names import ApiAddress
from lambdad.events.apigw.routing import ApiRoute
from lambdad.events.apigw.service import ApiGateway
from lambdad.events.function_urls import Response
from lambdad.events.url_cache import UrlCache
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.changes import ChangeHub
from lambdad.model.front_door import front
from lambdad.model.scope import Scope
from unit.events.apigw.conftest import PORT, SCOPE, Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
HEADERS = [("host", "x"), ("user-agent", "curl/8"), ("cookie", "a=1; b=2"),
           ("content-type", "text/plain")]  # fmt: skip


class _Invoker:
    def __init__(self, payload: bytes = b'{"statusCode": 200, "body": "ok"}') -> None:
        self.payload = payload
        self.error: str | None = None
        self.throttle = False
        self.requests: list[InvokeRequest] = []

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        self.requests.append(req)
        if self.throttle:
            raise TooManyRequestsException(
                "Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded"
            )
        return InvokeResponse(200, self.payload, "$LATEST", function_error=self.error)

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].payload)  # type: ignore[no-any-return]


class _Policies:
    def __init__(self, allow: bool = True) -> None:
        self.allow = allow
        self.asked: list[tuple[str, str | None, str, str]] = []

    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool:
        self.asked.append((name, qualifier, service, source_arn))
        return self.allow


def _door(gateway: ApiGateway, invoker: _Invoker, policies: _Policies) -> ApiGatewayDoor:
    door = gateway.door(invoker, policies, UrlCache(ChangeHub()))
    door.new_id = lambda: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    return door


def _send(door: ApiGatewayDoor, api_id: str, method: str, path: str, query: str = "",
          body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Response:  # fmt: skip
    address = ApiAddress(api_id, None, path)
    return asyncio.run(
        door.respond(address, method, query, headers or HEADERS, body, source_ip="192.0.2.1")
    )


def _json(answer: Response) -> Any:
    return json.loads(answer[2])


def _header(answer: Response, name: bytes) -> str | None:
    return next((v.decode() for k, v in answer[1] if k == name), None)


def test_http_api_event_2_0(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN})["ApiId"]
    invoker, policies = _Invoker(), _Policies()
    answer = _send(_door(gateway, invoker, policies), api_id, "POST", "/my/path",
                   "parameter1=value1&parameter1=value2&parameter2=value", b"Hello")  # fmt: skip
    assert answer[0] == 200
    assert answer[2] == b"ok"
    assert _header(answer, b"content-type") == "text/plain; charset=utf-8"
    event = invoker.event
    assert list(event) == [
        "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
        "queryStringParameters", "requestContext", "body", "isBase64Encoded",
    ]  # fmt: skip
    assert event["routeKey"] == "$default"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["body"] == "Hello"
    context = event["requestContext"]
    domain = f"{api_id}.execute-api.us-east-1.localhost"
    assert context == {
        "accountId": SCOPE.account,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": api_id,
        "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1",
                 "sourceIp": "192.0.2.1", "userAgent": "curl/8"},
        "requestId": context["requestId"],
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/May/2024:12:00:00 +0000",
        "timeEpoch": 1714564800000,
    }  # fmt: skip
    assert _header(answer, b"apigw-requestid") == context["requestId"]
    assert len(context["requestId"]) == 16
    assert event["headers"]["x-forwarded-port"] == str(PORT)
    assert policies.asked == [
        ("f", None, "apigateway.amazonaws.com",
         f"arn:aws:execute-api:us-east-1:{SCOPE.account}:{api_id}/$default/$default"),
    ]  # fmt: skip


def test_http_api_answers_of_its_own(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN,
                              "RouteKey": "GET /pets/{id}"})  # fmt: skip
    api_id = api_id["ApiId"]
    invoker = _Invoker()
    door = _door(gateway, invoker, _Policies())
    assert _send(door, api_id, "GET", "/pets/1")[0] == 200
    assert invoker.event["pathParameters"] == {"id": "1"}
    not_found = _send(door, api_id, "GET", "/cats/1")
    assert (not_found[0], _json(not_found)) == (404, {"message": "Not Found"})
    assert _send(door, "zzzzzzzzzz", "GET", "/")[0] == 404
    invoker.payload = b'{"statusCode": "teapot"}'
    broken = _send(door, api_id, "GET", "/pets/1")
    assert (broken[0], _json(broken)) == (500, {"message": "Internal Server Error"})
    invoker.payload, invoker.error = b'{"errorMessage": "boom"}', "Unhandled"
    assert _send(door, api_id, "GET", "/pets/1")[0] == 500
    invoker.throttle = True
    throttled = _send(door, api_id, "GET", "/pets/1")
    assert (throttled[0], _json(throttled)) == (503, {"message": "Service Unavailable"})
    too_large = _send(door, api_id, "GET", "/pets/1", body=b"x" * (10 * 1024 * 1024 + 1))
    assert too_large[0] == 413


def test_the_door_serves_an_api_as_changed_since_its_last_request(
    gateway: ApiGateway, v2: Call, v1: Call
) -> None:
    """The door keeps a stage's parsed routes between requests: any change to the API
    (a route, a deployment, a stage) is served from the next request on."""
    api_id = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN,
                              "RouteKey": "GET /a"})["ApiId"]  # fmt: skip
    door = _door(gateway, _Invoker(), _Policies())
    assert _send(door, api_id, "GET", "/b")[0] == 404
    target = v2("GetRoutes", {"ApiId": api_id})["Items"][0]["Target"]
    v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /b", "Target": target})
    assert _send(door, api_id, "GET", "/b")[0] == 200  # auto-deployed $default stage
    v2("CreateStage", {"ApiId": api_id, "StageName": "prod"})
    assert _send(door, api_id, "GET", "/prod/b")[0] == 404  # nothing deployed there yet
    v2("CreateDeployment", {"ApiId": api_id, "StageName": "prod"})
    assert _send(door, api_id, "GET", "/prod/b")[0] == 200
    rest = v1("CreateRestApi", {"name": "r"})
    rest_id, root = rest["id"], rest["rootResourceId"]
    pets = v1("CreateResource", {"restApiId": rest_id, "parentId": root, "pathPart": "pets"})
    ids = {"restApiId": rest_id, "resourceId": pets["id"], "httpMethod": "GET"}
    v1("PutMethod", {**ids, "authorizationType": "NONE"})
    v1("PutIntegration", {**ids, "type": "AWS_PROXY", "integrationHttpMethod": "POST",
                          "uri": URI})  # fmt: skip
    v1("CreateDeployment", {"restApiId": rest_id, "stageName": "v1"})
    assert _send(door, rest_id, "GET", "/v1/pets")[0] == 200
    assert _send(door, rest_id, "POST", "/v1/pets")[0] == 403
    v1("PutMethod", {**ids, "httpMethod": "POST", "authorizationType": "NONE"})
    v1("PutIntegration", {**ids, "httpMethod": "POST", "type": "AWS_PROXY",
                          "integrationHttpMethod": "POST", "uri": URI})  # fmt: skip
    assert _send(door, rest_id, "POST", "/v1/pets")[0] == 403  # not deployed yet
    v1("CreateDeployment", {"restApiId": rest_id, "stageName": "v1"})
    assert _send(door, rest_id, "POST", "/v1/pets")[0] == 200


def test_no_permission_is_a_500_without_invoking(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN})["ApiId"]
    invoker = _Invoker()
    answer = _send(_door(gateway, invoker, _Policies(allow=False)), api_id, "GET", "/")
    assert (answer[0], _json(answer)) == (500, {"message": "Internal Server Error"})
    assert invoker.requests == []


def test_cors_preflight_and_headers(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "c", "ProtocolType": "HTTP", "Target": ARN,
                              "CorsConfiguration": {"AllowOrigins": ["https://a.example"],
                                                    "AllowMethods": ["GET"]}})["ApiId"]  # fmt: skip
    invoker = _Invoker()
    door = _door(gateway, invoker, _Policies())
    origin = [("origin", "https://a.example")]
    preflight = _send(door, api_id, "OPTIONS", "/x",
                      headers=[*origin, ("access-control-request-method", "GET")])  # fmt: skip
    assert preflight[0] == 204
    assert _header(preflight, b"access-control-allow-origin") == "https://a.example"
    assert invoker.requests == []
    answer = _send(door, api_id, "GET", "/x", headers=origin)
    assert _header(answer, b"access-control-allow-origin") == "https://a.example"


def _rest_api(v1: Call, binary: list[str] | None = None) -> tuple[str, str]:
    api = v1("CreateRestApi", {"name": "r", **({"binaryMediaTypes": binary} if binary else {})})
    proxy = v1("CreateResource", {"restApiId": api["id"], "parentId": api["rootResourceId"],
                                  "pathPart": "{proxy+}"})  # fmt: skip
    ids = {"restApiId": api["id"], "resourceId": proxy["id"], "httpMethod": "ANY"}
    v1("PutMethod", {**ids, "authorizationType": "NONE"})
    v1("PutIntegration", {**ids, "type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": URI})
    v1("CreateDeployment", {"restApiId": api["id"], "stageName": "prod",
                            "variables": {"v": "1"}})  # fmt: skip
    return api["id"], proxy["id"]


def test_rest_api_event(gateway: ApiGateway, v1: Call) -> None:
    api_id, proxy_id = _rest_api(v1)
    invoker, policies = _Invoker(), _Policies()
    answer = _send(_door(gateway, invoker, policies), api_id, "GET", "/prod/path/to/resource",
                   "foo=bar&foo=baz", b"")  # fmt: skip
    assert answer[0] == 200
    assert _header(answer, b"content-type") == "application/json"
    assert _header(answer, b"x-amzn-requestid") == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    event = invoker.event
    assert list(event) == [
        "resource", "path", "httpMethod", "headers", "multiValueHeaders",
        "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
        "stageVariables", "requestContext", "body", "isBase64Encoded",
    ]  # fmt: skip
    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/path/to/resource"
    assert event["queryStringParameters"] == {"foo": "baz"}
    assert event["multiValueQueryStringParameters"] == {"foo": ["bar", "baz"]}
    assert event["pathParameters"] == {"proxy": "path/to/resource"}
    assert event["stageVariables"] == {"v": "1"}
    assert event["body"] is None
    context = event["requestContext"]
    assert list(context) == sorted(context)
    assert {k: context[k] for k in ("resourceId", "resourcePath", "httpMethod", "path",
                                    "accountId", "protocol", "stage", "domainPrefix",
                                    "requestId", "apiId", "requestTime",
                                    "requestTimeEpoch")} == {
        "resourceId": proxy_id, "resourcePath": "/{proxy+}", "httpMethod": "GET",
        "path": "/prod/path/to/resource", "accountId": SCOPE.account, "protocol": "HTTP/1.1",
        "stage": "prod", "domainPrefix": api_id,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "apiId": api_id,
        "requestTime": "01/May/2024:12:00:00 +0000", "requestTimeEpoch": 1714564800000,
    }  # fmt: skip
    assert context["identity"]["sourceIp"] == "192.0.2.1"
    assert context["identity"]["userAgent"] == "curl/8"
    assert context["extendedRequestId"]
    assert policies.asked[0][3] == (
        f"arn:aws:execute-api:us-east-1:{SCOPE.account}:{api_id}/prod/GET/{{proxy+}}"
    )


def test_rest_api_answers_of_its_own(gateway: ApiGateway, v1: Call) -> None:
    api_id, _ = _rest_api(v1)
    invoker = _Invoker(b'{"statusCode": 200, "unexpected": true}')
    door = _door(gateway, invoker, _Policies())
    malformed = _send(door, api_id, "GET", "/prod/x")
    assert (malformed[0], _json(malformed)) == (502, {"message": "Internal server error"})
    for path in ("/prod", "/dev/x"):
        missing = _send(door, api_id, "GET", path)
        assert (missing[0], _json(missing)) == (403, {"message": "Missing Authentication Token"})
    refused = _send(_door(gateway, invoker, _Policies(allow=False)), api_id, "GET", "/prod/x")
    assert (refused[0], _json(refused)) == (500, {"message": "Internal server error"})


@pytest.mark.parametrize(
    ("path", "host", "door"),
    [("/execute-api/abcdefghij/x", None, True),
     ("/x", "abcdefghij.execute-api.us-east-1.localhost:9550", True),
     ("/2015-03-31/functions", "127.0.0.1:9550", False)],
)  # fmt: skip
def test_routing_in_front_of_the_api(path: str, host: str | None, door: bool) -> None:
    seen: list[str] = []

    class _Door:
        async def respond(self, address: ApiAddress, *args: Any, **kwargs: Any) -> Response:
            seen.append("door")
            return 200, [], b""

    async def api(*args: Any) -> Response:
        seen.append("api")
        return 200, [], b""

    headers = [("host", host)] if host else []
    respond, admit = front([ApiRoute(_Door())], api, lambda *args: 7)  # type: ignore[arg-type]
    asyncio.run(respond("GET", path, "", headers, b""))
    assert seen == ["door" if door else "api"]
    limit = admit("POST", path, "", headers)
    assert limit == (10 * 1024 * 1024 + 1 if door else 7)


def test_another_accounts_function_is_never_reached(gateway: ApiGateway, v2: Call) -> None:
    foreign = "arn:aws:lambda:us-east-1:222222222222:function:f"
    api_id = v2("CreateApi", {"Name": "x", "ProtocolType": "HTTP", "Target": foreign})["ApiId"]
    invoker = _Invoker()
    answer = _send(_door(gateway, invoker, _Policies()), api_id, "GET", "/")
    assert (answer[0], _json(answer)) == (500, {"message": "Internal Server Error"})
    assert invoker.requests == []


def test_a_disabled_default_endpoint_is_forbidden(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "d", "ProtocolType": "HTTP", "Target": ARN,
                              "DisableExecuteApiEndpoint": True})["ApiId"]  # fmt: skip
    invoker = _Invoker()
    answer = _send(_door(gateway, invoker, _Policies()), api_id, "GET", "/")
    assert (answer[0], _json(answer)) == (403, {"message": "Forbidden"})
    assert invoker.requests == []
