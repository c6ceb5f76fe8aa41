"""ImportApi and ReimportApi: an HTTP API from an OpenAPI definition with
``x-amazon-apigateway-integration`` (YAML or JSON), routes and integrations as AWS's
import makes them."""

from __future__ import annotations

import json

import pytest

from lambdad.errors import BadRequestException
from lambdad.events.apigw.openapi_import import read_definition
from unit.events.apigw.conftest import Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"
DEFINITION = f"""
openapi: "3.0.1"
info:
  title: pets
  version: "2024-01-01"
servers:
  - url: https://example.com/v1
x-amazon-apigateway-cors:
  allowOrigins: ["*"]
  maxAge: 60
paths:
  /pets/{{id}}:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {ARN}
        payloadFormatVersion: "2.0"
  /{{proxy+}}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: AWS_PROXY
        uri: {ARN}
  /docs:
    get:
      summary: no integration
"""


def test_definition_read() -> None:
    imported = read_definition(DEFINITION)
    assert imported.api == {
        "Name": "pets",
        "Version": "2024-01-01",
        "CorsConfiguration": {"AllowOrigins": ["*"], "MaxAge": 60},
    }
    routes = {r.route_key: r.integration for r in imported.routes}
    assert routes["GET /pets/{id}"] == {
        "IntegrationType": "AWS_PROXY", "IntegrationUri": ARN, "PayloadFormatVersion": "2.0",
    }  # fmt: skip
    assert routes["ANY /{proxy+}"]["PayloadFormatVersion"] == "1.0"  # type: ignore[index]
    assert routes["GET /docs"] is None
    prepended = read_definition(DEFINITION, "prepend")
    assert {r.route_key for r in prepended.routes} == {
        "GET /v1/pets/{id}", "ANY /v1/{proxy+}", "GET /v1/docs",
    }  # fmt: skip


def test_json_and_the_default_route() -> None:
    doc = {"openapi": "3.0.1", "info": {"title": "d"},
           "paths": {"$default": {"x-amazon-apigateway-any-method": {}}}}  # fmt: skip
    (route,) = read_definition(json.dumps(doc)).routes
    assert (route.route_key, route.integration) == ("$default", None)


@pytest.mark.parametrize(
    "body",
    ["not: [valid", "[1, 2]", '{"info": {"title": "x"}, "paths": {}}',
     '{"openapi": "3.0.1", "info": {}, "paths": {}}',
     '{"openapi": "3.0.1", "info": {"title": "x"}}',
     '{"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"get": '
     '{"x-amazon-apigateway-integration": {"type": "http_proxy", "uri": "https://x"}}}}}'],
)  # fmt: skip
def test_bad_definitions(body: str) -> None:
    with pytest.raises(BadRequestException):
        read_definition(body)


def test_import_and_reimport(v2: Call) -> None:
    api = v2("ImportApi", {"Body": DEFINITION})
    assert api["Name"] == "pets"
    routes = v2("GetRoutes", {"ApiId": api["ApiId"]})["Items"]
    assert sorted(r["RouteKey"] for r in routes) == ["ANY /{proxy+}", "GET /docs", "GET /pets/{id}"]
    assert len(v2("GetIntegrations", {"ApiId": api["ApiId"]})["Items"]) == 2
    assert v2("GetStages", {"ApiId": api["ApiId"]})["Items"] == []
    smaller = {"openapi": "3.0.1", "info": {"title": "pets2"},
               "paths": {"/a": {"post": {"x-amazon-apigateway-integration": {
                   "type": "aws_proxy", "uri": ARN, "payloadFormatVersion": "2.0"}}}}}  # fmt: skip
    again = v2("ReimportApi", {"ApiId": api["ApiId"], "Body": json.dumps(smaller)})
    assert again["Name"] == "pets2"
    assert "CorsConfiguration" not in again
    routes = v2("GetRoutes", {"ApiId": api["ApiId"]})["Items"]
    assert [r["RouteKey"] for r in routes] == ["POST /a"]
    assert len(v2("GetIntegrations", {"ApiId": api["ApiId"]})["Items"]) == 1
