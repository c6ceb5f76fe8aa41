"""WebSocket APIs through ``apigatewayv2``'s control operations: what AWS checks for
them, and route responses."""

from __future__ import annotations

import pytest

from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.websocket.control import check_api_update
from unit.events.apigw.conftest import PORT, Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"
SELECT = "$request.body.action"


def _api(v2: Call) -> str:
    api = v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET",
                           "RouteSelectionExpression": SELECT})  # fmt: skip
    assert api["ApiEndpoint"] == f"ws://{api['ApiId']}.execute-api.us-east-1.localhost:{PORT}"
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == SELECT
    return str(api["ApiId"])


def test_a_websocket_api_and_its_routes(v2: Call) -> None:
    api_id = _api(v2)
    integration = v2("CreateIntegration", {"ApiId": api_id, "IntegrationType": "AWS_PROXY",
                                           "IntegrationUri": ARN})  # fmt: skip
    assert integration["PayloadFormatVersion"] == "1.0"
    target = f"integrations/{integration['IntegrationId']}"
    for key in ("$connect", "$disconnect", "$default", "sendMessage"):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": key, "Target": target})
    keys = {r["RouteKey"] for r in v2("GetRoutes", {"ApiId": api_id})["Items"]}
    assert keys == {"$connect", "$disconnect", "$default", "sendMessage"}
    with pytest.raises(ConflictException):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": "sendMessage"})


@pytest.mark.parametrize("key", ["$other", "", "x" * 129])
def test_route_keys_are_checked(v2: Call, key: str) -> None:
    api_id = _api(v2)
    with pytest.raises(BadRequestException):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": key})


def test_api_checks(v2: Call) -> None:
    with pytest.raises(BadRequestException):
        v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET",
                         "RouteSelectionExpression": "$request.header.x"})  # fmt: skip
    with pytest.raises(BadRequestException):
        v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET", "Target": ARN,
                         "RouteSelectionExpression": SELECT})  # fmt: skip
    api_id = _api(v2)
    with pytest.raises(BadRequestException):
        v2("CreateIntegration", {"ApiId": api_id, "IntegrationType": "AWS_PROXY",
                                 "IntegrationUri": ARN, "PayloadFormatVersion": "2.0"})  # fmt: skip


def test_route_responses(v2: Call) -> None:
    api_id = _api(v2)
    route = v2("CreateRoute", {"ApiId": api_id, "RouteKey": "ping",
                               "RouteResponseSelectionExpression": "$default"})  # fmt: skip
    ids = {"ApiId": api_id, "RouteId": route["RouteId"]}
    made = v2("CreateRouteResponse", {**ids, "RouteResponseKey": "$default"})
    assert made["RouteResponseKey"] == "$default"
    with pytest.raises(ConflictException):
        v2("CreateRouteResponse", {**ids, "RouteResponseKey": "$default"})
    with pytest.raises(BadRequestException):
        v2("CreateRouteResponse", {**ids, "RouteResponseKey": "other"})
    (listed,) = v2("GetRouteResponses", ids)["Items"]
    assert listed == made
    assert v2("GetRouteResponse", {**ids, "RouteResponseId": made["RouteResponseId"]}) == made
    v2("DeleteRouteResponse", {**ids, "RouteResponseId": made["RouteResponseId"]})
    with pytest.raises(NotFoundException):
        v2("GetRouteResponse", {**ids, "RouteResponseId": made["RouteResponseId"]})
    with pytest.raises(BadRequestException):
        v2("UpdateRoute", {**ids, "RouteResponseSelectionExpression": "$request.body.x"})


def test_route_responses_are_for_websocket_apis_only(v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "h", "ProtocolType": "HTTP"})["ApiId"]
    route = v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /x"})
    with pytest.raises(BadRequestException):
        v2("CreateRouteResponse", {"ApiId": api_id, "RouteId": route["RouteId"],
                                   "RouteResponseKey": "$default"})  # fmt: skip


def test_only_connect_is_authorized_and_by_request_authorizers(v2: Call) -> None:
    api_id = _api(v2)
    with pytest.raises(BadRequestException):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": "say", "AuthorizationType": "AWS_IAM"})
    v2("CreateRoute", {"ApiId": api_id, "RouteKey": "$connect", "AuthorizationType": "AWS_IAM"})
    with pytest.raises(BadRequestException):
        v2("CreateAuthorizer", {"ApiId": api_id, "AuthorizerType": "JWT", "Name": "j",
                                "JwtConfiguration": {"Issuer": "https://x"}})  # fmt: skip
    http_style = ["$request.header.A"]
    with pytest.raises(BadRequestException):
        v2("CreateAuthorizer", {"ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "r",
                                "AuthorizerUri": ARN, "IdentitySource": http_style})  # fmt: skip
    made = v2("CreateAuthorizer", {"ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "r",
                                   "AuthorizerUri": ARN,
                                   "IdentitySource": ["route.request.header.Auth"]})  # fmt: skip
    assert made["IdentitySource"] == ["route.request.header.Auth"]


def test_integration_timeouts_and_authorizer_caching_are_as_for_websocket_apis(v2: Call) -> None:
    api_id = _api(v2)
    made = v2("CreateIntegration", {"ApiId": api_id, "IntegrationType": "AWS_PROXY",
                                    "IntegrationUri": ARN})  # fmt: skip
    assert made["TimeoutInMillis"] == 29_000  # botocore: 29 s by default for WebSocket APIs
    for timeout in (30_000, 49):
        params = {"ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": ARN,
                  "TimeoutInMillis": timeout}  # fmt: skip
        with pytest.raises(BadRequestException):
            v2("CreateIntegration", params)
    http = v2("CreateApi", {"Name": "h", "ProtocolType": "HTTP", "Target": ARN})
    integration = v2("GetIntegrations", {"ApiId": http["ApiId"]})["Items"][0]
    assert integration["TimeoutInMillis"] == 30_000
    with pytest.raises(BadRequestException):  # caching is for HTTP APIs' authorizers only
        v2("CreateAuthorizer", {"ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "c",
                                "AuthorizerUri": ARN, "AuthorizerResultTtlInSeconds": 300,
                                "IdentitySource": ["route.request.header.Auth"]})  # fmt: skip


def test_selection_expressions_of_a_create_or_an_update() -> None:
    check_api_update({"RouteSelectionExpression": SELECT})
    check_api_update({"ApiKeySelectionExpression": "$context.authorizer.usageIdentifierKey"})
    for bad in (
        {"RouteSelectionExpression": "$request.header.x"},
        {"RouteSelectionExpression": ""},
        {"ApiKeySelectionExpression": "$request.header.key"},
    ):
        with pytest.raises(BadRequestException):
            check_api_update(bad)


def test_an_api_key_selection_api_gateway_does_not_know_is_refused(v2: Call) -> None:
    with pytest.raises(BadRequestException):
        v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression":
                         SELECT, "ApiKeySelectionExpression": "bogus"})  # fmt: skip
