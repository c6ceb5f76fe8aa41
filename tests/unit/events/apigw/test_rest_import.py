"""ImportRestApi and PutRestApi: a REST API's resources, methods and Lambda proxy
integrations from an OpenAPI definition, overwritten or merged."""

from __future__ import annotations

import json

import pytest

from lambdad.errors import BadRequestException
from lambdad.events.apigw import dispatch
from lambdad.events.apigw.api_store import REST
from lambdad.events.apigw.service import ApiGateway
from unit.events.apigw.conftest import SCOPE, Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
PROXY = {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
                                             "uri": URI}}  # fmt: skip


def _definition(paths: dict[str, object], title: str = "pets") -> bytes:
    return json.dumps({"openapi": "3.0.1", "info": {"title": title, "version": "1"},
                       "x-amazon-apigateway-binary-media-types": ["image/png"],
                       "paths": paths}).encode()  # fmt: skip


def _paths(gateway: ApiGateway, api_id: str) -> dict[str, list[str]]:
    doc = gateway.apis.get(REST, SCOPE, api_id)
    return {r["path"]: sorted(r["resourceMethods"]) for r in doc["Resources"].values()}


def test_import_builds_resources_methods_and_integrations(gateway: ApiGateway, v1: Call) -> None:
    body = _definition({"/pets/{id}": {"get": PROXY, "delete": PROXY},
                        "/{proxy+}": {"x-amazon-apigateway-any-method": PROXY}})  # fmt: skip
    api = v1("ImportRestApi", {"body": body})
    assert (api["name"], api["version"], api["binaryMediaTypes"]) == ("pets", "1", ["image/png"])
    assert _paths(gateway, api["id"]) == {
        "/": [], "/pets": [], "/pets/{id}": ["DELETE", "GET"], "/{proxy+}": ["ANY"],
    }  # fmt: skip
    v1("CreateDeployment", {"restApiId": api["id"], "stageName": "v1"})
    doc = gateway.apis.get(REST, SCOPE, api["id"])
    found = dispatch.rest_target(doc, "GET", "/v1/pets/3")
    assert found is not None
    assert (found.resource_path, found.integration_uri) == ("/pets/{id}", URI)


def test_put_overwrites_or_merges(gateway: ApiGateway, v1: Call) -> None:
    api = v1("ImportRestApi", {"body": _definition({"/a": {"get": PROXY}})})
    v1("PutRestApi", {"restApiId": api["id"], "mode": "merge",
                      "body": _definition({"/b": {"post": PROXY}})})  # fmt: skip
    assert _paths(gateway, api["id"]) == {"/": [], "/a": ["GET"], "/b": ["POST"]}
    renamed = v1("PutRestApi", {"restApiId": api["id"],
                                "body": _definition({"/c": {"get": PROXY}}, "new")})  # fmt: skip
    assert renamed["name"] == "new"
    assert _paths(gateway, api["id"]) == {"/": [], "/c": ["GET"]}


@pytest.mark.parametrize(
    "body",
    [b"\xff", b"{}", _definition({"/a": {"get": {"x-amazon-apigateway-integration": {
        "type": "mock"}}}}), _definition({"/{proxy+}": {}, "/{proxy+}/x": {}}),
     _definition({"a": {}})],
)  # fmt: skip
def test_bad_definitions(v1: Call, body: bytes) -> None:
    with pytest.raises(BadRequestException):
        v1("ImportRestApi", {"body": body})
