"""Each list operation of both API Gateway control APIs pages with the shared helper:
one item a page walks them all in order, a bad page size or a token of another
listing is refused; and an UpdateApi of a WebSocket API checks its expressions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdad.errors import BadRequestException
from unit.events.apigw.conftest import Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
Params = dict[str, Any]


def _walk_v2(v2: Call, operation: str, params: Params) -> list[Params]:
    """Every item, asked one a page."""
    items: list[Params] = []
    page = v2(operation, {**params, "MaxResults": "1"})
    while True:
        assert len(page["Items"]) <= 1
        items += page["Items"]
        if "NextToken" not in page:
            return items
        page = v2(operation, {**params, "MaxResults": "1", "NextToken": page["NextToken"]})


def _walk_v1(v1: Call, operation: str, params: Params, size: int = 1) -> list[Params]:
    items: list[Params] = []
    page = v1(operation, {**params, "limit": size})
    while True:
        assert len(page["items"]) <= size
        items += page["items"]
        if "position" not in page:
            return items
        page = v1(operation, {**params, "limit": size, "position": page["position"]})


def _http_api(v2: Call) -> str:
    return str(v2("CreateApi", {"Name": "h", "ProtocolType": "HTTP"})["ApiId"])


def _ws_api(v2: Call) -> str:
    api = v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET",
                           "RouteSelectionExpression": "$request.body.action"})  # fmt: skip
    return str(api["ApiId"])


def _integration(v2: Call, api_id: str, version: str = "2.0") -> str:
    params = {"IntegrationType": "AWS_PROXY", "IntegrationUri": ARN}
    made = v2("CreateIntegration", {"ApiId": api_id, **params, "PayloadFormatVersion": version})
    return str(made["IntegrationId"])


def _apis(v2: Call) -> Params:
    for _ in range(3):
        _http_api(v2)
    return {}


def _routes(v2: Call) -> Params:
    api_id = _http_api(v2)
    for path in ("/a", "/b", "/c"):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": f"GET {path}"})
    return {"ApiId": api_id}


def _integrations(v2: Call) -> Params:
    api_id = _http_api(v2)
    for _ in range(3):
        _integration(v2, api_id)
    return {"ApiId": api_id}


def _stages(v2: Call) -> Params:
    api_id = _http_api(v2)
    for name in ("a", "b", "c"):
        v2("CreateStage", {"ApiId": api_id, "StageName": name})
    return {"ApiId": api_id}


def _deployments(v2: Call) -> Params:
    api_id = _http_api(v2)
    for _ in range(3):
        v2("CreateDeployment", {"ApiId": api_id})
    return {"ApiId": api_id}


def _authorizers(v2: Call) -> Params:
    api_id = _http_api(v2)
    for name in ("a", "b", "c"):
        v2("CreateAuthorizer", {"ApiId": api_id, "AuthorizerType": "REQUEST", "Name": name,
                                "AuthorizerUri": URI, "AuthorizerPayloadFormatVersion": "2.0",
                                "IdentitySource": ["$request.header.Authorization"]})  # fmt: skip
    return {"ApiId": api_id}


def _integration_responses(v2: Call) -> Params:
    api_id = _ws_api(v2)
    ids = {"ApiId": api_id, "IntegrationId": _integration(v2, api_id, "1.0")}
    for key in ("$default", "/4\\d\\d/", "/5\\d\\d/"):
        v2("CreateIntegrationResponse", {**ids, "IntegrationResponseKey": key})
    return ids


V2_LISTINGS: dict[str, tuple[Callable[[Call], Params], str]] = {
    "GetApis": (_apis, "ApiId"),
    "GetRoutes": (_routes, "RouteId"),
    "GetIntegrations": (_integrations, "IntegrationId"),
    "GetStages": (_stages, "StageName"),
    "GetDeployments": (_deployments, "DeploymentId"),
    "GetAuthorizers": (_authorizers, "AuthorizerId"),
    "GetIntegrationResponses": (_integration_responses, "IntegrationResponseId"),
}


@pytest.mark.parametrize("operation", sorted(V2_LISTINGS))
def test_an_http_api_listing_pages_one_item_at_a_time(v2: Call, operation: str) -> None:
    make, key = V2_LISTINGS[operation]
    params = make(v2)
    whole = v2(operation, params)
    assert "NextToken" not in whole
    assert len(whole["Items"]) == 3
    walked = _walk_v2(v2, operation, params)
    assert [item[key] for item in walked] == [item[key] for item in whole["Items"]]
    two = v2(operation, {**params, "MaxResults": "2"})
    assert len(two["Items"]) == 2
    assert "NextToken" in two
    for bad in ("0", "abc"):
        with pytest.raises(BadRequestException):
            v2(operation, {**params, "MaxResults": bad})
    with pytest.raises(BadRequestException):
        v2(operation, {**params, "NextToken": "not-one-of-ours"})


def test_a_token_of_another_api_is_refused(v2: Call) -> None:
    first, second = _routes(v2), _routes(v2)
    token = v2("GetRoutes", {**first, "MaxResults": "1"})["NextToken"]
    with pytest.raises(BadRequestException):
        v2("GetRoutes", {**second, "NextToken": token})
    with pytest.raises(BadRequestException):
        v2("GetIntegrations", {**first, "NextToken": token})


def test_route_responses_page_too(v2: Call) -> None:
    api_id = _ws_api(v2)
    route = v2("CreateRoute", {"ApiId": api_id, "RouteKey": "$default"})
    ids = {"ApiId": api_id, "RouteId": route["RouteId"]}
    v2("CreateRouteResponse", {**ids, "RouteResponseKey": "$default"})
    page = v2("GetRouteResponses", {**ids, "MaxResults": "1"})
    assert len(page["Items"]) == 1
    assert "NextToken" not in page  # $default is a route's only route response
    with pytest.raises(BadRequestException):
        v2("GetRouteResponses", {**ids, "MaxResults": "0"})
    with pytest.raises(BadRequestException):
        v2("GetRouteResponses", {**ids, "NextToken": "bogus"})


def test_an_update_of_a_websocket_api_checks_its_selection_expressions(v2: Call) -> None:
    api_id = _ws_api(v2)
    for bad in ("$request.header.x", ""):
        with pytest.raises(BadRequestException):
            v2("UpdateApi", {"ApiId": api_id, "RouteSelectionExpression": bad})
    with pytest.raises(BadRequestException):
        v2("UpdateApi", {"ApiId": api_id, "ApiKeySelectionExpression": "bogus"})
    api = v2("GetApi", {"ApiId": api_id})
    assert api["RouteSelectionExpression"] == "$request.body.action"
    updated = v2("UpdateApi", {"ApiId": api_id, "RouteSelectionExpression": "$request.body.op"})
    assert updated["RouteSelectionExpression"] == "$request.body.op"
    http_id = _http_api(v2)  # an HTTP API's expression is not a WebSocket one's
    v2(
        "UpdateApi",
        {"ApiId": http_id, "RouteSelectionExpression": "${request.method} ${request.path}"},
    )


def _rest_apis(v1: Call) -> Params:
    for _ in range(3):
        v1("CreateRestApi", {"name": "r"})
    return {}


def _resources(v1: Call) -> Params:
    api = v1("CreateRestApi", {"name": "r"})
    for part in ("a", "b"):
        v1("CreateResource", {"restApiId": api["id"], "parentId": api["rootResourceId"],
                              "pathPart": part})  # fmt: skip
    return {"restApiId": api["id"]}


def _rest_deployments(v1: Call) -> Params:
    api = v1("CreateRestApi", {"name": "r"})
    api_id = api["id"]
    ids = {"restApiId": api_id, "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    v1("PutMethod", {**ids, "authorizationType": "NONE"})
    v1("PutIntegration", {**ids, "type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": URI})
    for _ in range(3):
        v1("CreateDeployment", {"restApiId": api_id})
    return {"restApiId": api_id}


def _rest_authorizers(v1: Call) -> Params:
    api_id = v1("CreateRestApi", {"name": "r"})["id"]
    for name in ("a", "b", "c"):
        v1("CreateAuthorizer", {"restApiId": api_id, "name": name, "type": "REQUEST",
                                "authorizerUri": URI})  # fmt: skip
    return {"restApiId": api_id}


V1_LISTINGS: dict[str, Callable[[Call], Params]] = {
    "GetRestApis": _rest_apis,
    "GetResources": _resources,
    "GetDeployments": _rest_deployments,
    "GetAuthorizers": _rest_authorizers,
}


@pytest.mark.parametrize("operation", sorted(V1_LISTINGS))
def test_a_rest_api_listing_pages_by_limit_and_position(v1: Call, operation: str) -> None:
    params = V1_LISTINGS[operation](v1)
    whole = v1(operation, params)
    assert "position" not in whole
    assert len(whole["items"]) == 3
    walked = _walk_v1(v1, operation, params)
    assert [item["id"] for item in walked] == [item["id"] for item in whole["items"]]
    for bad in (0, -1):
        with pytest.raises(BadRequestException):
            v1(operation, {**params, "limit": bad})
    with pytest.raises(BadRequestException):
        v1(operation, {**params, "position": "not-one-of-ours"})


def test_a_rest_api_listing_is_25_a_page_unless_told(v1: Call) -> None:
    api = v1("CreateRestApi", {"name": "r"})
    for n in range(26):
        v1("CreateResource", {"restApiId": api["id"], "parentId": api["rootResourceId"],
                              "pathPart": f"p{n}"})  # fmt: skip
    first = v1("GetResources", {"restApiId": api["id"]})
    assert len(first["items"]) == 25
    assert first["items"][0]["path"] == "/"
    rest = v1("GetResources", {"restApiId": api["id"], "position": first["position"]})
    assert [r["path"] for r in rest["items"]] == ["/p24", "/p25"]
    assert "position" not in rest
    assert len(v1("GetResources", {"restApiId": api["id"], "limit": 500})["items"]) == 27
