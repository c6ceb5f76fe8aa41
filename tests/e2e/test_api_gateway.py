"""API Gateway served end to end: a real server, functions made with boto3, HTTP APIs
made with the AWS CLI's quick create and with boto3's ``apigatewayv2`` parts, a REST
API made with boto3's ``apigateway`` calls; requests sent with ``requests`` to the
``*.execute-api.*.localhost`` host form and the ``/execute-api/<id>/`` path form. What
the function sees (payload 2.0 and 1.0), what the client gets back, and API Gateway's
own answers: no route, no permission, a function that returns garbage."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from e2e.helpers import (
    OTHER,
    POWERTOOLS_PET_ROUTES,
    PRIMARY,
    LambdadServer,
    authorize_only_route,
    handler_zip,
    powertools_zip,
)

NewFunction = Callable[..., dict[str, Any]]
# Payload format 1.0 wants a proxy answer: the event comes back as its body.
WRAPPED = (
    "import json\n"
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': json.dumps(event)}\n"
)
GARBAGE = "def handler(event, context):\n    return {'statusCode': 'teapot', 'extra': 1}\n"


def _permit(lambdad: LambdadServer, name: str, api_id: str) -> None:
    lambdad.client().add_permission(
        FunctionName=name,
        StatementId=f"apigw-{api_id}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{lambdad.region}:{PRIMARY.account_id}:{api_id}/*",
    )


def _path_form(lambdad: LambdadServer, api_id: str, path: str) -> str:
    return f"{lambdad.endpoint}/execute-api/{api_id}{path}"


def _rest_proxy(lambdad: LambdadServer, function_arn: str, stage: str, **variables: str) -> str:
    """A REST API: ``/{proxy+}``, ``ANY``, an ``AWS_PROXY`` integration to the function,
    deployed to ``stage`` (with ``variables``); its id."""
    client = lambdad.client("apigateway")
    api_id: str = client.create_rest_api(name="rest")["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]
    proxy = client.create_resource(restApiId=api_id, parentId=root["id"], pathPart="{proxy+}")
    client.put_method(
        restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE"
    )
    uri = (
        f"arn:aws:apigateway:{lambdad.region}:lambda:path/2015-03-31/functions/"
        f"{function_arn}/invocations"
    )
    client.put_integration(
        restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY", type="AWS_PROXY",
        integrationHttpMethod="POST", uri=uri,
    )  # fmt: skip
    client.create_deployment(restApiId=api_id, stageName=stage, variables=variables)
    return api_id


def test_quick_create_with_the_cli(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function()  # echoes its event
    api = lambdad.aws(
        "apigatewayv2", "create-api", "--name", "quick", "--protocol-type", "HTTP",
        "--target", function["FunctionArn"],
    )  # fmt: skip
    api_id = api["ApiId"]
    endpoint = api["ApiEndpoint"]
    assert endpoint == f"http://{api_id}.execute-api.{lambdad.region}.localhost:{lambdad.port}"
    routes = lambdad.client("apigatewayv2").get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]

    # Without the permission API Gateway cannot invoke the function: AWS's 500.
    refused = requests.get(_path_form(lambdad, api_id, "/x"), timeout=30)
    assert refused.status_code == 500
    assert refused.json() == {"message": "Internal Server Error"}

    _permit(lambdad, function["FunctionName"], api_id)
    by_host = requests.post(
        f"{lambdad.endpoint}/pets/7?q=1&q=2",
        headers={"Host": urlsplit(endpoint).netloc, "Cookie": "a=1; b=2",
                 "Content-Type": "application/json"},
        data=b'{"k": "v"}', timeout=30,
    )  # fmt: skip
    assert by_host.status_code == 200, by_host.text
    assert by_host.headers["apigw-requestid"]
    event = by_host.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/pets/7"
    assert event["rawQueryString"] == "q=1&q=2"
    assert event["queryStringParameters"] == {"q": "1,2"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["body"] == '{"k": "v"}'
    context = event["requestContext"]
    assert context["apiId"] == api_id
    assert context["accountId"] == PRIMARY.account_id
    assert context["domainName"] == urlsplit(endpoint).hostname
    assert context["domainPrefix"] == api_id
    assert context["stage"] == "$default"
    assert context["routeKey"] == "$default"
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/pets/7"
    assert {"requestId", "time", "timeEpoch"} <= set(context)

    # And with curl, as the check runs it.
    curl = subprocess.run(
        ["curl", "-s", "-H", f"Host: {urlsplit(endpoint).netloc}", f"{lambdad.endpoint}/by/curl"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert json.loads(curl.stdout)["rawPath"] == "/by/curl", curl.stdout + curl.stderr

    by_path = requests.get(_path_form(lambdad, api_id, "/a%20b"), timeout=30)
    assert by_path.status_code == 200
    assert by_path.json()["rawPath"] == "/a%20b"
    assert by_path.json()["requestContext"]["domainName"] == context["domainName"]


def test_routes_stages_and_payload_1(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function(handler_zip(WRAPPED))
    client = lambdad.client("apigatewayv2")
    api_id = client.create_api(Name="parts", ProtocolType="HTTP")["ApiId"]
    v1 = client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function["FunctionArn"],
        PayloadFormatVersion="1.0",
    )  # fmt: skip
    client.create_route(
        ApiId=api_id, RouteKey="GET /pets/{id}", Target=f"integrations/{v1['IntegrationId']}"
    )
    client.create_stage(
        ApiId=api_id, StageName="dev", AutoDeploy=True, StageVariables={"color": "blue"}
    )
    _permit(lambdad, function["FunctionName"], api_id)

    answer = requests.get(_path_form(lambdad, api_id, "/dev/pets/7?x=1&x=2"), timeout=30)
    assert answer.status_code == 200, answer.text
    event = answer.json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/pets/{id}"
    assert event["path"] == "/dev/pets/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["requestContext"]["stage"] == "dev"
    assert event["requestContext"]["apiId"] == api_id

    missing = requests.post(_path_form(lambdad, api_id, "/dev/pets/7"), timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found"}
    assert requests.get(_path_form(lambdad, api_id, "/pets/7"), timeout=30).status_code == 404


def test_rest_api_proxy(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function(handler_zip(WRAPPED))
    client = lambdad.client("apigateway")
    api_id = _rest_proxy(lambdad, function["FunctionArn"], "prod", v="1")
    resources = {r["path"]: r for r in client.get_resources(restApiId=api_id)["items"]}
    assert set(resources) == {"/", "/{proxy+}"}
    proxy = resources["/{proxy+}"]
    assert list(proxy["resourceMethods"]) == ["ANY"]
    assert client.get_stage(restApiId=api_id, stageName="prod")["variables"] == {"v": "1"}
    _permit(lambdad, function["FunctionName"], api_id)

    host = f"{api_id}.execute-api.{lambdad.region}.localhost:{lambdad.port}"
    answer = requests.put(
        f"{lambdad.endpoint}/prod/a/b?x=1",
        headers={"Host": host, "X-Two": "2", "Content-Type": "text/plain"},
        data=b"hi", timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-amzn-requestid"]
    event = answer.json()
    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/a/b"
    assert event["httpMethod"] == "PUT"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["stageVariables"] == {"v": "1"}
    # REST APIs hand header names on as the client spelled them.
    assert event["headers"]["X-Two"] == "2"
    assert event["multiValueHeaders"]["X-Two"] == ["2"]
    assert event["headers"]["Host"] == host
    assert event["body"] == "hi"
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourceId"] == proxy["id"]
    assert context["resourcePath"] == "/{proxy+}"
    assert context["path"] == "/prod/a/b"
    assert context["stage"] == "prod"
    assert context["accountId"] == PRIMARY.account_id
    assert context["identity"]["sourceIp"] == "127.0.0.1"

    # The root resource has no method, and no stage is named "other": AWS's 403.
    for path in ("/prod/", "/other/a"):
        refused = requests.get(_path_form(lambdad, api_id, path), timeout=30)
        assert refused.status_code == 403
        assert refused.json() == {"message": "Missing Authentication Token"}


def test_garbage_answers(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function(handler_zip(GARBAGE))
    api = lambdad.client("apigatewayv2").create_api(
        Name="garbage", ProtocolType="HTTP", Target=function["FunctionArn"]
    )
    _permit(lambdad, function["FunctionName"], api["ApiId"])
    answer = requests.get(_path_form(lambdad, api["ApiId"], "/"), timeout=30)
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal Server Error"}
    unknown = requests.get(_path_form(lambdad, "zzzzzzzzzz", "/"), timeout=30)
    assert unknown.status_code == 404


def test_import_an_openapi_definition(
    lambdad: LambdadServer, new_function: NewFunction, tmp_path: Path
) -> None:
    function = new_function()
    definition = tmp_path / "api.yaml"
    definition.write_text(
        "openapi: 3.0.1\ninfo:\n  title: imported\npaths:\n  /hello/{name}:\n    get:\n"
        "      x-amazon-apigateway-integration:\n        type: aws_proxy\n"
        f"        uri: {function['FunctionArn']}\n        payloadFormatVersion: '2.0'\n"
    )
    api = lambdad.aws("apigatewayv2", "import-api", "--body", f"file://{definition}")
    assert api["Name"] == "imported"
    lambdad.client("apigatewayv2").create_stage(
        ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
    )
    _permit(lambdad, function["FunctionName"], api["ApiId"])
    answer = requests.get(_path_form(lambdad, api["ApiId"], "/hello/ada"), timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["routeKey"] == "GET /hello/{name}"
    assert answer.json()["pathParameters"] == {"name": "ada"}


AUTHORIZER = (
    "def handler(event, context):\n"
    "    token = event['headers'].get('authorization')\n"
    "    return {'isAuthorized': token == 'letmein', 'context': {'who': 'ada'}}\n"
)


def test_lambda_authorizer(lambdad: LambdadServer, new_function: NewFunction) -> None:
    app, gate = new_function(), new_function(handler_zip(AUTHORIZER))
    client = lambdad.client("apigatewayv2")
    api_id = client.create_api(
        Name="guarded", ProtocolType="HTTP", Target=app["FunctionArn"], RouteKey="GET /secret"
    )["ApiId"]
    uri = (
        f"arn:aws:apigateway:{lambdad.region}:lambda:path/2015-03-31/functions/"
        f"{gate['FunctionArn']}/invocations"
    )
    authorizer = client.create_authorizer(
        ApiId=api_id, AuthorizerType="REQUEST", Name="gate", AuthorizerUri=uri,
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        IdentitySource=["$request.header.Authorization"],
    )  # fmt: skip
    authorize_only_route(client, api_id, "CUSTOM", AuthorizerId=authorizer["AuthorizerId"])
    _permit(lambdad, app["FunctionName"], api_id)
    _permit(lambdad, gate["FunctionName"], api_id)
    url = _path_form(lambdad, api_id, "/secret")

    assert requests.get(url, timeout=30).status_code == 401
    denied = requests.get(url, headers={"Authorization": "guess"}, timeout=30)
    assert (denied.status_code, denied.json()) == (403, {"message": "Forbidden"})
    allowed = requests.get(url, headers={"Authorization": "letmein"}, timeout=30)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["requestContext"]["authorizer"] == {"lambda": {"who": "ada"}}


def test_aws_iam_route(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function()
    client = lambdad.client("apigatewayv2")
    api_id = client.create_api(Name="iam", ProtocolType="HTTP", Target=function["FunctionArn"])[
        "ApiId"
    ]
    authorize_only_route(client, api_id, "AWS_IAM")
    _permit(lambdad, function["FunctionName"], api_id)
    url = _path_form(lambdad, api_id, "/me?x=1")

    unsigned = requests.get(url, timeout=30)
    assert (unsigned.status_code, unsigned.json()) == (403, {"message": "Forbidden"})
    for signer in (PRIMARY, OTHER):  # the API's own account, then another
        signed = AWSRequest(method="GET", url=url)
        SigV4Auth(signer.botocore(), "execute-api", lambdad.region).add_auth(signed)
        answer = requests.get(url, headers=dict(signed.headers), timeout=30)
        if signer is OTHER:
            assert answer.status_code == 403
            continue
        assert answer.status_code == 200, answer.text
        iam = answer.json()["requestContext"]["authorizer"]["iam"]
        assert (iam["accessKey"], iam["accountId"]) == (PRIMARY.access_key_id, PRIMARY.account_id)


# -- Powertools' resolvers, unchanged: they parse the events as AWS writes them ---------

POWERTOOLS_APP = f"""
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver

http = APIGatewayHttpResolver()
rest = APIGatewayRestResolver()
{POWERTOOLS_PET_ROUTES}

routes(http)
routes(rest)


def handler(event, context):
    return (http if event.get("version") == "2.0" else rest).resolve(event, context)
"""


def test_powertools_resolvers(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function(powertools_zip(POWERTOOLS_APP), Timeout=30)
    http_api = lambdad.client("apigatewayv2").create_api(
        Name="pt", ProtocolType="HTTP", Target=function["FunctionArn"]
    )["ApiId"]
    rest_api = _rest_proxy(lambdad, function["FunctionArn"], "live")
    for api_id in (http_api, rest_api):
        _permit(lambdad, function["FunctionName"], api_id)

    for base in (_path_form(lambdad, http_api, ""), _path_form(lambdad, rest_api, "/live")):
        got = requests.get(f"{base}/pets/7?q=a+b", headers={"User-Agent": "pt"}, timeout=60)
        assert got.status_code == 200, got.text
        assert got.json() == {"pet": "7", "q": "a b", "agent": "pt"}
        posted = requests.post(f"{base}/pets", json={"name": "rex"}, timeout=60)
        assert (posted.status_code, posted.json()) == (201, {"got": {"name": "rex"}})
        assert requests.get(f"{base}/cats", timeout=60).status_code == 404


SLOW = "import time\ndef handler(event, context):\n    time.sleep(5)\n    return {}\n"


def test_bad_input_through_an_http_api(lambdad: LambdadServer, new_function: NewFunction) -> None:
    echo, slow = new_function(), new_function(handler_zip(SLOW), Timeout=1)
    client = lambdad.client("apigatewayv2")
    api_id = client.create_api(Name="bad", ProtocolType="HTTP", Target=echo["FunctionArn"])["ApiId"]
    slow_api = client.create_api(Name="slow", ProtocolType="HTTP", Target=slow["FunctionArn"])[
        "ApiId"
    ]
    _permit(lambdad, echo["FunctionName"], api_id)
    _permit(lambdad, slow["FunctionName"], slow_api)
    base = _path_form(lambdad, api_id, "")

    odd = requests.get(f"{base}/%FF%FE/x?a=%FF&a=2&&=&b", timeout=30)
    assert odd.status_code == 200, odd.text
    assert odd.json()["rawPath"] == "/%FF%FE/x"  # invalid UTF-8 once decoded
    octets = {"Content-Type": "application/octet-stream"}
    binary = requests.post(f"{base}/b", data=bytes(range(256)), headers=octets, timeout=30)
    assert binary.json()["isBase64Encoded"] is True
    head = requests.head(f"{base}/h", timeout=30)
    assert (head.status_code, head.content) == (200, b"")
    too_large = requests.post(f"{base}/big", data=b"x" * (10 * 1024 * 1024 + 1), timeout=60)
    assert (too_large.status_code, too_large.json()) == (
        413, {"message": "Request Entity Too Large"}
    )  # fmt: skip
    timed_out = requests.get(_path_form(lambdad, slow_api, "/"), timeout=60)
    assert (timed_out.status_code, timed_out.json()) == (
        500, {"message": "Internal Server Error"}
    )  # fmt: skip
    assert requests.get(f"{base}/still", timeout=30).status_code == 200
    assert "Traceback" not in lambdad.stderr()


def test_import_a_rest_api(lambdad: LambdadServer, new_function: NewFunction) -> None:
    function = new_function(handler_zip(WRAPPED))
    uri = (
        f"arn:aws:apigateway:{lambdad.region}:lambda:path/2015-03-31/functions/"
        f"{function['FunctionArn']}/invocations"
    )
    definition = (
        "openapi: 3.0.1\ninfo:\n  title: imported-rest\npaths:\n  /items/{id}:\n    get:\n"
        "      x-amazon-apigateway-integration:\n        type: aws_proxy\n"
        f"        httpMethod: POST\n        uri: {uri}\n"
    )
    client = lambdad.client("apigateway")
    api = client.import_rest_api(body=definition.encode())
    assert api["name"] == "imported-rest"
    client.create_deployment(restApiId=api["id"], stageName="v1")
    _permit(lambdad, function["FunctionName"], api["id"])
    answer = requests.get(_path_form(lambdad, api["id"], "/v1/items/9"), timeout=30)
    assert answer.status_code == 200, answer.text
    event = answer.json()
    assert (event["resource"], event["pathParameters"]) == ("/items/{id}", {"id": "9"})


PAGED_REGION = "ca-central-1"  # no other test makes APIs there: its listings are exact


def test_http_api_lists_page_with_boto3_and_the_cli(lambdad: LambdadServer) -> None:
    v2 = lambdad.client("apigatewayv2", region=PAGED_REGION)
    made = [v2.create_api(Name=f"paged-{n}", ProtocolType="HTTP")["ApiId"] for n in range(3)]
    uri = f"arn:aws:lambda:{PAGED_REGION}:{PRIMARY.account_id}:function:nothing"
    for n in range(3):
        v2.create_route(ApiId=made[0], RouteKey=f"GET /{n}")
        v2.create_integration(ApiId=made[0], IntegrationType="AWS_PROXY", IntegrationUri=uri,
                              PayloadFormatVersion="2.0")  # fmt: skip
        v2.create_stage(ApiId=made[0], StageName=f"s{n}")
        v2.create_deployment(ApiId=made[0])
        v2.create_authorizer(ApiId=made[0], AuthorizerType="REQUEST", Name=f"a{n}",
                             AuthorizerUri=uri, AuthorizerPayloadFormatVersion="2.0",
                             IdentitySource=["$request.header.Authorization"])  # fmt: skip

    def walk(operation: str, **params: str) -> list[dict[str, Any]]:
        pages = v2.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": 1})
        return [item for page in pages for item in page["Items"]]

    assert [a["ApiId"] for a in walk("get_apis")] == made
    for parts in ("routes", "integrations", "stages", "deployments", "authorizers"):
        assert len(walk(f"get_{parts}", ApiId=made[0])) == 3, parts
    first = v2.get_apis(MaxResults="1")
    assert [a["ApiId"] for a in first["Items"]] == made[:1]
    assert [a["ApiId"] for a in v2.get_apis(NextToken=first["NextToken"])["Items"]] == made[1:]
    for bad in ({"MaxResults": "0"}, {"MaxResults": "abc"}, {"NextToken": "not-ours"}):
        with pytest.raises(v2.exceptions.BadRequestException):
            v2.get_apis(**bad)

    one = lambdad.aws("apigatewayv2", "get-apis", "--max-items", "1", region=PAGED_REGION)
    assert [a["ApiId"] for a in one["Items"]] == made[:1]
    more = lambdad.aws(
        "apigatewayv2", "get-apis", "--page-size", "1", "--starting-token", one["NextToken"],
        region=PAGED_REGION,
    )  # fmt: skip
    assert [a["ApiId"] for a in more["Items"]] == made[1:]
    assert "NextToken" not in more


def test_rest_api_lists_page_by_limit_and_position(lambdad: LambdadServer) -> None:
    v1 = lambdad.client("apigateway", region=PAGED_REGION)
    made = [v1.create_rest_api(name=f"paged-{n}")["id"] for n in range(3)]
    root = v1.get_resources(restApiId=made[0])["items"][0]["id"]
    for part in ("a", "b"):
        v1.create_resource(restApiId=made[0], parentId=root, pathPart=part)
    function = f"arn:aws:lambda:{PAGED_REGION}:{PRIMARY.account_id}:function:nothing"
    uri = (
        f"arn:aws:apigateway:{PAGED_REGION}:lambda:path/2015-03-31/functions/{function}/invocations"
    )
    ids = {"restApiId": made[0], "resourceId": root, "httpMethod": "GET"}
    v1.put_method(**ids, authorizationType="NONE")
    v1.put_integration(**ids, type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    for n in range(3):
        v1.create_deployment(restApiId=made[0])
        v1.create_authorizer(restApiId=made[0], name=f"a{n}", type="REQUEST", authorizerUri=uri)

    def walk(operation: str, **params: str) -> list[dict[str, Any]]:
        pages = v1.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": 1})
        return [item for page in pages for item in page["items"]]

    assert [a["id"] for a in walk("get_rest_apis")] == made
    assert {r["path"] for r in walk("get_resources", restApiId=made[0])} == {"/", "/a", "/b"}
    for parts in ("deployments", "authorizers"):
        assert len(walk(f"get_{parts}", restApiId=made[0])) == 3, parts
    first = v1.get_rest_apis(limit=2)
    assert [a["id"] for a in first["items"]] == made[:2]
    assert [a["id"] for a in v1.get_rest_apis(position=first["position"])["items"]] == made[2:]
    for bad in ({"limit": 0}, {"position": "not-ours"}):
        with pytest.raises(v1.exceptions.BadRequestException):
            v1.get_rest_apis(**bad)
    listed = lambdad.aws("apigateway", "get-rest-apis", "--page-size", "1", region=PAGED_REGION)
    assert [a["id"] for a in listed["items"]] == made
