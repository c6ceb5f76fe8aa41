"""The control operations of HTTP APIs and REST APIs over an in-memory store: what
quick create makes, the checks AWS makes on routes, integrations, resources, methods,
deployments and stages, and the errors it answers."""

from __future__ import annotations

import pytest

from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from unit.events.apigw.conftest import PORT, Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"


def test_quick_create_makes_an_integration_a_route_and_an_auto_deployed_stage(v2: Call) -> None:
    api = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN})
    api_id = api["ApiId"]
    assert len(api_id) == 10
    assert api["ApiEndpoint"] == f"http://{api_id}.execute-api.us-east-1.localhost:{PORT}"
    assert api["RouteSelectionExpression"] == "$request.method $request.path"
    (integration,) = v2("GetIntegrations", {"ApiId": api_id})["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == ARN
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["ApiGatewayManaged"] is True
    (route,) = v2("GetRoutes", {"ApiId": api_id})["Items"]
    assert route["RouteKey"] == "$default"
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    (stage,) = v2("GetStages", {"ApiId": api_id})["Items"]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True


def test_quick_create_with_a_route_key(v2: Call) -> None:
    api = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN,
                           "RouteKey": "GET /pets"})  # fmt: skip
    (route,) = v2("GetRoutes", {"ApiId": api["ApiId"]})["Items"]
    assert route["RouteKey"] == "GET /pets"


def test_a_websocket_api_needs_a_route_selection_expression(v2: Call) -> None:
    with pytest.raises(BadRequestException):
        v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET"})


def test_routes_are_checked(v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "r", "ProtocolType": "HTTP"})["ApiId"]
    v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /pets"})
    with pytest.raises(ConflictException):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /pets"})
    with pytest.raises(BadRequestException):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": "pets"})
    with pytest.raises(BadRequestException):
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /x", "Target": "integrations/nope"})
    with pytest.raises(NotFoundException) as missing:
        v2("GetRoute", {"ApiId": api_id, "RouteId": "nope"})
    assert missing.value.fields == {"ResourceType": "Route"}


def test_integrations_need_a_payload_version_and_cannot_go_while_used(v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "i", "ProtocolType": "HTTP"})["ApiId"]
    base = {"ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": ARN}
    with pytest.raises(BadRequestException):
        v2("CreateIntegration", base)
    with pytest.raises(BadRequestException):
        v2("CreateIntegration", {**base, "PayloadFormatVersion": "3.0"})
    with pytest.raises(BadRequestException):
        v2("CreateIntegration", {**base, "IntegrationType": "HTTP_PROXY",
                                 "PayloadFormatVersion": "1.0"})  # fmt: skip
    made = v2("CreateIntegration", {**base, "PayloadFormatVersion": "1.0"})
    assert made["IntegrationMethod"] == "POST"
    assert made["TimeoutInMillis"] == 30000
    route = v2("CreateRoute", {"ApiId": api_id, "RouteKey": "ANY /{proxy+}",
                               "Target": f"integrations/{made['IntegrationId']}"})  # fmt: skip
    ids = {"ApiId": api_id, "IntegrationId": made["IntegrationId"]}
    with pytest.raises(ConflictException):
        v2("DeleteIntegration", ids)
    v2("DeleteRoute", {"ApiId": api_id, "RouteId": route["RouteId"]})
    v2("DeleteIntegration", ids)
    assert v2("GetIntegrations", {"ApiId": api_id})["Items"] == []


def test_stages_and_deployments(v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "s", "ProtocolType": "HTTP"})["ApiId"]
    stage = v2("CreateStage", {"ApiId": api_id, "StageName": "dev",
                               "StageVariables": {"a": "1"}})  # fmt: skip
    assert stage["AutoDeploy"] is False
    with pytest.raises(ConflictException):
        v2("CreateStage", {"ApiId": api_id, "StageName": "dev"})
    deployment = v2("CreateDeployment", {"ApiId": api_id, "StageName": "dev"})
    assert (
        v2("GetStage", {"ApiId": api_id, "StageName": "dev"})["DeploymentId"]
        == (deployment["DeploymentId"])
    )
    updated = v2("UpdateStage", {"ApiId": api_id, "StageName": "dev",
                                 "StageVariables": {"a": "2"}})  # fmt: skip
    assert updated["StageVariables"] == {"a": "2"}
    v2("DeleteStage", {"ApiId": api_id, "StageName": "dev"})
    with pytest.raises(NotFoundException):
        v2("GetStage", {"ApiId": api_id, "StageName": "dev"})


def test_apis_listed_updated_and_deleted(v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "a", "ProtocolType": "HTTP"})["ApiId"]
    assert v2("UpdateApi", {"ApiId": api_id, "Name": "b"})["Name"] == "b"
    assert [a["Name"] for a in v2("GetApis", {})["Items"]] == ["b"]
    v2("DeleteApi", {"ApiId": api_id})
    with pytest.raises(NotFoundException):
        v2("GetApi", {"ApiId": api_id})


def _rest_api_with_proxy(v1: Call) -> tuple[str, str]:
    api = v1("CreateRestApi", {"name": "r"})
    proxy = v1("CreateResource", {"restApiId": api["id"], "parentId": api["rootResourceId"],
                                  "pathPart": "{proxy+}"})  # fmt: skip
    return api["id"], proxy["id"]


def test_rest_resources(v1: Call) -> None:
    api = v1("CreateRestApi", {"name": "r", "binaryMediaTypes": ["image/png"]})
    assert api["endpointConfiguration"] == {"types": ["EDGE"]}
    (root,) = v1("GetResources", {"restApiId": api["id"]})["items"]
    assert root == {"id": api["rootResourceId"], "path": "/"}
    pets = v1("CreateResource", {"restApiId": api["id"], "parentId": root["id"],
                                 "pathPart": "pets"})  # fmt: skip
    pet = v1("CreateResource", {"restApiId": api["id"], "parentId": pets["id"],
                                "pathPart": "{id}"})  # fmt: skip
    assert pet["path"] == "/pets/{id}"
    with pytest.raises(ConflictException):
        v1("CreateResource", {"restApiId": api["id"], "parentId": root["id"], "pathPart": "pets"})
    with pytest.raises(BadRequestException):
        v1("CreateResource", {"restApiId": api["id"], "parentId": pets["id"],
                              "pathPart": "{other}"})  # fmt: skip
    with pytest.raises(BadRequestException):
        v1("CreateResource", {"restApiId": api["id"], "parentId": root["id"], "pathPart": "a/b"})
    v1("DeleteResource", {"restApiId": api["id"], "resourceId": pets["id"]})
    assert len(v1("GetResources", {"restApiId": api["id"]})["items"]) == 1


def test_greedy_resources_have_no_children(v1: Call) -> None:
    api_id, proxy_id = _rest_api_with_proxy(v1)
    with pytest.raises(BadRequestException):
        v1("CreateResource", {"restApiId": api_id, "parentId": proxy_id, "pathPart": "x"})


def test_methods_integrations_and_deployments(v1: Call) -> None:
    api_id, proxy_id = _rest_api_with_proxy(v1)
    ids = {"restApiId": api_id, "resourceId": proxy_id, "httpMethod": "ANY"}
    with pytest.raises(BadRequestException):
        v1("CreateDeployment", {"restApiId": api_id, "stageName": "p"})  # no methods
    method = v1("PutMethod", {**ids, "authorizationType": "NONE"})
    assert method == {"apiKeyRequired": False, "authorizationType": "NONE", "httpMethod": "ANY"}
    with pytest.raises(ConflictException):
        v1("PutMethod", {**ids, "authorizationType": "NONE"})
    with pytest.raises(BadRequestException):
        v1("CreateDeployment", {"restApiId": api_id, "stageName": "p"})  # no integration
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
    integration = v1("PutIntegration", {**ids, "type": "AWS_PROXY",
                                        "integrationHttpMethod": "POST", "uri": uri})  # fmt: skip
    assert integration["passthroughBehavior"] == "WHEN_NO_MATCH"
    assert v1("GetMethod", ids)["methodIntegration"]["uri"] == uri
    deployment = v1("CreateDeployment", {"restApiId": api_id, "stageName": "p",
                                         "variables": {"v": "1"}})  # fmt: skip
    stage = v1("GetStage", {"restApiId": api_id, "stageName": "p"})
    assert stage["deploymentId"] == deployment["id"]
    assert stage["variables"] == {"v": "1"}
    patched = v1("UpdateStage", {"restApiId": api_id, "stageName": "p", "patchOperations": [
        {"op": "replace", "path": "/variables/v", "value": "2"},
        {"op": "replace", "path": "/variables/w", "value": "3"},
    ]})  # fmt: skip
    assert patched["variables"] == {"v": "2", "w": "3"}
    with pytest.raises(ConflictException):
        v1("CreateStage", {"restApiId": api_id, "stageName": "p", "deploymentId": deployment["id"]})
    with pytest.raises(NotFoundException):
        v1("CreateStage", {"restApiId": api_id, "stageName": "q", "deploymentId": "nope"})
    assert [s["stageName"] for s in v1("GetStages", {"restApiId": api_id})["item"]] == ["p"]


def test_only_lambda_proxies_and_no_authorizers(v1: Call) -> None:
    api_id, proxy_id = _rest_api_with_proxy(v1)
    ids = {"restApiId": api_id, "resourceId": proxy_id, "httpMethod": "GET"}
    with pytest.raises(BadRequestException):
        v1("PutMethod", {**ids, "authorizationType": "CUSTOM"})
    with pytest.raises(BadRequestException):
        v1("PutMethod", {**ids, "httpMethod": "FETCH", "authorizationType": "NONE"})
    v1("PutMethod", {**ids, "authorizationType": "NONE"})
    with pytest.raises(BadRequestException):
        v1("PutIntegration", {**ids, "type": "MOCK"})


def test_unknown_rest_api(v1: Call) -> None:
    with pytest.raises(NotFoundException) as missing:
        v1("GetRestApi", {"restApiId": "nope"})
    assert missing.value.message == "Invalid API identifier specified 111111111111:nope"
    assert missing.value.fields == {}
