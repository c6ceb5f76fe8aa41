"""From a stored API and a request to what to invoke: stages, routes, deployments,
REST resource methods, the function an integration URI names, and source ARNs."""

from __future__ import annotations

from typing import Any

from lambdad.events.apigw import dispatch, names
from lambdad.events.apigw.api_store import HTTP, REST
from lambdad.events.apigw.service import ApiGateway
from lambdad.model.arn import FunctionRef
from unit.events.apigw.conftest import SCOPE, Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"


def _doc(gateway: ApiGateway, kind: str, api_id: str) -> dict[str, Any]:
    return gateway.apis.get(kind, SCOPE, api_id)


def test_default_stage_at_the_root_and_named_stages_under_their_name(
    gateway: ApiGateway, v2: Call
) -> None:
    api_id = v2("CreateApi", {"Name": "q", "ProtocolType": "HTTP", "Target": ARN})["ApiId"]
    v2("CreateStage", {"ApiId": api_id, "StageName": "dev", "AutoDeploy": True,
                       "StageVariables": {"a": "b"}})  # fmt: skip
    doc = _doc(gateway, HTTP, api_id)
    root = dispatch.http_target(doc, "GET", "/dev2/x")
    assert root is not None
    assert (root.stage, root.path, root.route_key) == ("$default", "/dev2/x", "$default")
    assert (root.arn_method, root.arn_path) == ("", "$default")
    dev = dispatch.http_target(doc, "GET", "/dev/x")
    assert dev is not None
    assert (dev.stage, dev.path, dev.stage_variables) == ("dev", "/x", {"a": "b"})
    assert dispatch.http_target(doc, "GET", "/dev") is not None  # the stage's root


def test_a_stage_without_auto_deploy_serves_its_deployment(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("CreateApi", {"Name": "d", "ProtocolType": "HTTP"})["ApiId"]
    made = {"ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": ARN,
            "PayloadFormatVersion": "1.0"}  # fmt: skip
    integration = v2("CreateIntegration", made)
    target = f"integrations/{integration['IntegrationId']}"
    v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /a", "Target": target})
    v2("CreateStage", {"ApiId": api_id, "StageName": "prod"})
    assert dispatch.http_target(_doc(gateway, HTTP, api_id), "GET", "/prod/a") is None
    v2("CreateDeployment", {"ApiId": api_id, "StageName": "prod"})
    v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /b", "Target": target})
    doc = _doc(gateway, HTTP, api_id)
    found = dispatch.http_target(doc, "GET", "/prod/a")
    assert found is not None
    assert (found.route_key, found.payload_version, found.arn_path) == ("GET /a", "1.0", "/a")
    assert dispatch.http_target(doc, "GET", "/prod/b") is None  # not deployed yet
    assert dispatch.http_target(doc, "GET", "/a") is None  # no $default stage
    cache: dict[str, Any] = {}
    for _ in range(2):
        for path in ("/prod/a", "/prod/b", "/a"):
            assert dispatch.http_target(doc, "GET", path, cache) == dispatch.http_target(
                doc, "GET", path
            )
    assert list(cache) == ["prod"]


def test_rest_methods_by_stage(gateway: ApiGateway, v1: Call) -> None:
    api = v1("CreateRestApi", {"name": "r"})
    api_id, root = api["id"], api["rootResourceId"]
    pets = v1("CreateResource", {"restApiId": api_id, "parentId": root, "pathPart": "pets"})
    proxy = v1("CreateResource", {"restApiId": api_id, "parentId": root,
                                  "pathPart": "{proxy+}"})  # fmt: skip
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
    for resource, verb in ((pets["id"], "GET"), (proxy["id"], "ANY")):
        ids = {"restApiId": api_id, "resourceId": resource, "httpMethod": verb}
        v1("PutMethod", {**ids, "authorizationType": "NONE"})
        v1("PutIntegration", {**ids, "type": "AWS_PROXY", "integrationHttpMethod": "POST",
                              "uri": uri})  # fmt: skip
    v1("CreateDeployment", {"restApiId": api_id, "stageName": "v1", "variables": {"x": "y"}})
    doc = _doc(gateway, REST, api_id)
    exact = dispatch.rest_target(doc, "GET", "/v1/pets")
    assert exact is not None
    assert (exact.resource_id, exact.resource_path, exact.path) == (pets["id"], "/pets", "/pets")
    assert exact.stage_variables == {"x": "y"}
    assert exact.integration_uri == uri
    greedy = dispatch.rest_target(doc, "POST", "/v1/pets")
    assert greedy is not None
    assert greedy.path_parameters == {"proxy": "pets"}
    assert (greedy.arn_method, greedy.arn_path) == ("POST", "/{proxy+}")
    assert dispatch.rest_target(doc, "GET", "/v1/") is None  # the root has no method
    assert dispatch.rest_target(doc, "GET", "/v2/pets") is None  # no such stage
    # With a cache (the door's, per document), the same answers from routes parsed once.
    cache: dict[str, Any] = {}
    for _ in range(2):
        for verb, path in (("GET", "/v1/pets"), ("POST", "/v1/pets"), ("GET", "/v1/"),
                           ("GET", "/v2/pets")):  # fmt: skip
            assert dispatch.rest_target(doc, verb, path, cache) == dispatch.rest_target(
                doc, verb, path
            )
    assert list(cache) == ["v1"]


def test_the_function_an_integration_names() -> None:
    invocation = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
    assert dispatch.function_of(invocation, {}) == FunctionRef(
        "f", None, "111111111111", "us-east-1"
    )
    assert dispatch.function_of(ARN + ":live", {}) == FunctionRef(
        "f", "live", "111111111111", "us-east-1"
    )
    assert dispatch.function_of(ARN + ":${stageVariables.alias}", {"alias": "blue"}) == (
        FunctionRef("f", "blue", "111111111111", "us-east-1")
    )
    assert dispatch.function_of("https://example.com", {}) is None


def test_source_arns_and_addresses() -> None:
    assert names.source_arn("us-east-1", "111111111111", "abc", "$default", "", "$default") == (
        "arn:aws:execute-api:us-east-1:111111111111:abc/$default/$default"
    )
    assert names.source_arn("us-east-1", "111111111111", "abc", "prod", "GET", "/pets/{id}") == (
        "arn:aws:execute-api:us-east-1:111111111111:abc/prod/GET/pets/{id}"
    )
    by_host = names.address("/x?y=1", "abcdefghij.execute-api.eu-west-1.localhost:9550")
    assert by_host == names.ApiAddress("abcdefghij", "eu-west-1", "/x")
    assert names.address("/execute-api/abcdefghij", None) == names.ApiAddress(
        "abcdefghij", None, "/"
    )
    assert names.address("/execute-api/abcdefghij/a/b", None) == names.ApiAddress(
        "abcdefghij", None, "/a/b"
    )
    assert names.address("/execute-api/short/a", None) is None
    assert names.address("/2015-03-31/functions", "127.0.0.1:9550") is None
