"""The API Gateway control APIs on the wire: both rest-json models behind one
responder, wire names to member names and back (ISO 8601 dates for HTTP APIs, epoch
seconds for REST APIs), and API Gateway's error shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.api.apigateway_api import ApiGatewayApi
from lambdad.api.context import RequestContext
from lambdad.api.sigv4 import Principal
from lambdad.clock import FakeClock
from lambdad.events.apigw.service import ApiGateway
from lambdad.model.credential import Credential
from unit.events.apigw.conftest import PORT, SCOPE, ChildStore

Send = Callable[..., tuple[int, dict[str, str], Any]]


async def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.fixture
def send() -> Send:
    clock = FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    gateway = ApiGateway(ChildStore(), clock, PORT)  # type: ignore[arg-type]
    api = ApiGatewayApi(gateway.http_operations(), gateway.rest_operations(), _inline)
    principal = Principal(Credential("AKID", "secret", SCOPE.account), SCOPE.region, "apigateway")
    ctx = RequestContext(principal, "req-1", "http://127.0.0.1:9550", {})

    def call(method: str, path: str, body: Any = None, query: str = "") -> Any:
        raw = json.dumps(body).encode() if body is not None else b""
        status, headers, out = asyncio.run(api(ctx, method, path, query, raw))
        return status, headers, json.loads(out) if out else None

    return call


def test_http_api_wire_names_and_dates(send: Send) -> None:
    cors = {"allowOrigins": ["*"]}
    status, _, api = send(
        "POST", "/v2/apis", {"name": "n", "protocolType": "HTTP", "corsConfiguration": cors}
    )
    assert status == 201
    assert api["name"] == "n"
    assert api["corsConfiguration"] == {"allowOrigins": ["*"]}
    assert api["createdDate"] == "2024-05-01T12:00:00Z"
    assert api["apiEndpoint"].startswith(f"http://{api['apiId']}.execute-api.us-east-1.")
    status, _, listed = send("GET", "/v2/apis")
    assert (status, [a["apiId"] for a in listed["items"]]) == (200, [api["apiId"]])
    status, _, body = send("DELETE", f"/v2/apis/{api['apiId']}")
    assert (status, body) == (204, None)


def test_rest_api_wire_names_and_dates(send: Send) -> None:
    status, _, api = send("POST", "/restapis", {"name": "r"})
    assert status == 201
    assert api["createdDate"] == 1714564800
    status, _, resources = send("GET", f"/restapis/{api['id']}/resources")
    assert status == 200
    assert resources["item"] == [{"id": api["rootResourceId"], "path": "/"}]
    path = f"/restapis/{api['id']}/resources/{api['rootResourceId']}/methods/GET"
    assert send("PUT", path, {"authorizationType": "NONE"})[0] == 201
    status, _, integration = send("PUT", path + "/integration", {
        "type": "AWS_PROXY", "httpMethod": "POST", "uri": "arn:aws:lambda:us-east-1:1:function:f",
    })  # fmt: skip
    assert (status, integration["httpMethod"]) == (201, "POST")
    assert send("DELETE", f"/restapis/{api['id']}")[0] == 202


def test_errors_in_api_gateways_shape(send: Send) -> None:
    status, headers, body = send("GET", "/v2/apis/nope")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "NotFoundException"
    assert body == {"message": "Invalid API identifier specified 111111111111:nope",
                    "resourceType": "Api"}  # fmt: skip
    status, headers, body = send("POST", "/v2/apis", {"protocolType": "HTTP"})
    assert (status, headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    assert "name" in body["message"]
    status, headers, _ = send("POST", "/v2/apis", b"{not json".decode())
    assert status == 400
    status, headers, body = send("GET", "/restapis/nope")
    assert (status, body) == (
        404,
        {"message": "Invalid API identifier specified 111111111111:nope"},
    )
    status, headers, body = send("GET", "/v2/domainnames")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    assert body == {"message": "The operation GetDomainNames is not supported by lambdad yet."}
    assert send("GET", "/nothing/here")[0] == 404
