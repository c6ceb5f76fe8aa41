"""The event documents, through the real server, for one request that exercises every
field: cookies, a repeated header, a repeated query key, an encoded query value, a
binary body, a path parameter, stage variables and a Lambda authorizer's context.
Sent to an HTTP API (payload 2.0 and 1.0, a named stage), a REST API, a function URL
and a load balancer with multi-value headers off and on; each event's fields are
compared with the formats of the AWS developer guides (the builders' unit tests
compare them with the guides' examples key by key; here the server fills them)."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from e2e.helpers import PRIMARY, LambdadServer, free_port, handler_zip, permit_url
from e2e.test_api_gateway import AUTHORIZER, WRAPPED

NewFunction = Callable[..., dict[str, Any]]
NewBalancer = Callable[[str], dict[str, Any]]
BODY = b"\x00\x01\xfe\xff"
QUERY = "q=1&q=2&r=a%20b"


def _send(port: int, host: str, path: str, *, token: str = "letmein") -> dict[str, Any]:
    """POST the request with every field to ``path``; the event the function saw."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", f"{path}?{QUERY}", skip_host=True, skip_accept_encoding=True)
    for name, value in (
        ("Host", host), ("Cookie", "a=1; b=2"), ("X-Rep", "1"), ("X-Rep", "2"),
        ("User-Agent", "docs"), ("Content-Type", "application/octet-stream"),
        ("Authorization", token), ("Content-Length", str(len(BODY))),
    ):  # fmt: skip
        conn.putheader(name, value)
    conn.endheaders(BODY)
    answer = conn.getresponse()
    text = answer.read()
    conn.close()
    assert answer.status == 200, text
    event: dict[str, Any] = json.loads(text)
    return event


def _permit(lambdad: LambdadServer, name: str, principal: str, source: str, sid: str) -> None:
    lambdad.client().add_permission(
        FunctionName=name, StatementId=sid, SourceArn=source, Action="lambda:InvokeFunction",
        Principal=principal,
    )  # fmt: skip


def _http_api(lambdad: LambdadServer, app: dict[str, Any], gate: dict[str, Any]) -> str:
    """An HTTP API: ``POST /items/{id}`` (2.0) and ``POST /v1/items/{id}`` (1.0) behind a
    Lambda authorizer, on stage ``live`` with a stage variable."""
    client = lambdad.client("apigatewayv2")
    api_id: str = client.create_api(Name="docs", ProtocolType="HTTP")["ApiId"]
    uri = (f"arn:aws:apigateway:{lambdad.region}:lambda:path/2015-03-31/functions/"
           f"{gate['FunctionArn']}/invocations")  # fmt: skip
    authorizer = client.create_authorizer(
        ApiId=api_id, AuthorizerType="REQUEST", Name="gate", AuthorizerUri=uri,
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        IdentitySource=["$request.header.Authorization"],
    )["AuthorizerId"]  # fmt: skip
    for key, version in (("POST /items/{id}", "2.0"), ("POST /v1/items/{id}", "1.0")):
        made = client.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                         IntegrationUri=app["FunctionArn"],
                                         PayloadFormatVersion=version)  # fmt: skip
        client.create_route(ApiId=api_id, RouteKey=key, AuthorizationType="CUSTOM",
                            AuthorizerId=authorizer,
                            Target=f"integrations/{made['IntegrationId']}")  # fmt: skip
    client.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True,
                        StageVariables={"color": "blue"})  # fmt: skip
    source = f"arn:aws:execute-api:{lambdad.region}:{PRIMARY.account_id}:{api_id}/*"
    for function in (app, gate):
        _permit(lambdad, function["FunctionName"], "apigateway.amazonaws.com", source,
                f"http-{api_id}")  # fmt: skip
    return api_id


def _rest_api(lambdad: LambdadServer, app: dict[str, Any]) -> str:
    client = lambdad.client("apigateway")
    api_id: str = client.create_rest_api(
        name="docs", binaryMediaTypes=["application/octet-stream"]
    )["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]
    items = client.create_resource(restApiId=api_id, parentId=root["id"], pathPart="items")
    item = client.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    client.put_method(restApiId=api_id, resourceId=item["id"], httpMethod="POST",
                      authorizationType="NONE")  # fmt: skip
    uri = (f"arn:aws:apigateway:{lambdad.region}:lambda:path/2015-03-31/functions/"
           f"{app['FunctionArn']}/invocations")  # fmt: skip
    client.put_integration(restApiId=api_id, resourceId=item["id"], httpMethod="POST",
                           type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)  # fmt: skip
    client.create_deployment(restApiId=api_id, stageName="prod", variables={"color": "blue"})
    source = f"arn:aws:execute-api:{lambdad.region}:{PRIMARY.account_id}:{api_id}/*"
    _permit(lambdad, app["FunctionName"], "apigateway.amazonaws.com", source, f"rest-{api_id}")
    return api_id


def _balancer(
    lambdad: LambdadServer, app: dict[str, Any], new_balancer: NewBalancer
) -> tuple[str, str]:
    """A balancer forwarding to the function: (its DNS name, the target group's ARN)."""
    elb = lambdad.client("elbv2")
    tail = app["FunctionName"][-8:]
    balancer = new_balancer(f"docs-{tail}")
    group = elb.create_target_group(Name=f"docs-{tail}", TargetType="lambda")["TargetGroups"][0]
    arn = group["TargetGroupArn"]
    _permit(lambdad, app["FunctionName"], "elasticloadbalancing.amazonaws.com", arn, "elb")
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": app["FunctionArn"]}])
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP",
                        Port=free_port(),
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])  # fmt: skip
    return balancer["DNSName"], arn


def _binary(event: dict[str, Any]) -> bytes:
    assert event["isBase64Encoded"] is True
    return base64.b64decode(event["body"])


def test_every_field_through_each_front_door(
    lambdad: LambdadServer, new_function: NewFunction, new_balancer: NewBalancer
) -> None:
    app, gate = new_function(handler_zip(WRAPPED)), new_function(handler_zip(AUTHORIZER))
    port, region = lambdad.port, lambdad.region
    http_api = _http_api(lambdad, app, gate)
    http_host = f"{http_api}.execute-api.{region}.localhost:{port}"

    v2 = _send(port, http_host, "/live/items/7")
    assert set(v2) == {
        "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
        "queryStringParameters", "requestContext", "body", "pathParameters",
        "isBase64Encoded", "stageVariables",
    }  # fmt: skip
    assert (v2["version"], v2["routeKey"]) == ("2.0", "POST /items/{id}")
    assert (v2["rawPath"], v2["rawQueryString"]) == ("/live/items/7", QUERY)
    assert v2["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in v2["headers"]
    assert (v2["headers"]["x-rep"], v2["headers"]["user-agent"]) == ("1,2", "docs")
    assert v2["queryStringParameters"] == {"q": "1,2", "r": "a b"}
    assert (v2["pathParameters"], v2["stageVariables"]) == ({"id": "7"}, {"color": "blue"})
    assert _binary(v2) == BODY
    context = v2["requestContext"]
    assert set(context) == {
        "accountId", "apiId", "authorizer", "domainName", "domainPrefix", "http",
        "requestId", "routeKey", "stage", "time", "timeEpoch",
    }  # fmt: skip
    assert context["authorizer"] == {"lambda": {"who": "ada"}}
    assert (context["accountId"], context["apiId"], context["stage"]) == (
        PRIMARY.account_id, http_api, "live"
    )  # fmt: skip
    assert context["domainName"] == f"{http_api}.execute-api.{region}.localhost"
    assert context["http"] == {"method": "POST", "path": "/live/items/7", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "docs"}  # fmt: skip

    v1 = _send(port, http_host, "/live/v1/items/7")
    assert set(v1) == {
        "version", "resource", "path", "httpMethod", "headers", "multiValueHeaders",
        "queryStringParameters", "multiValueQueryStringParameters", "requestContext",
        "pathParameters", "stageVariables", "body", "isBase64Encoded",
    }  # fmt: skip
    assert (v1["version"], v1["resource"], v1["httpMethod"]) == ("1.0", "/v1/items/{id}", "POST")
    assert (v1["headers"]["x-rep"], v1["multiValueHeaders"]["x-rep"]) == ("2", ["1", "2"])
    assert v1["headers"]["cookie"] == "a=1; b=2"
    assert v1["queryStringParameters"] == {"q": "2", "r": "a b"}
    assert v1["multiValueQueryStringParameters"] == {"q": ["1", "2"], "r": ["a b"]}
    assert (v1["pathParameters"], v1["stageVariables"]) == ({"id": "7"}, {"color": "blue"})
    assert _binary(v1) == BODY
    assert v1["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert v1["requestContext"]["authorizer"]["who"] == "ada"
    assert (v1["requestContext"]["stage"], v1["requestContext"]["httpMethod"]) == ("live", "POST")

    rest_api = _rest_api(lambdad, app)
    rest = _send(port, f"{rest_api}.execute-api.{region}.localhost:{port}", "/prod/items/7")
    assert set(rest) == set(v1) - {"version"}
    assert (rest["resource"], rest["path"]) == ("/items/{id}", "/items/7")
    # REST APIs keep the header names as the client spelled them.
    assert (rest["headers"]["X-Rep"], rest["multiValueHeaders"]["X-Rep"]) == ("2", ["1", "2"])
    assert rest["multiValueQueryStringParameters"] == {"q": ["1", "2"], "r": ["a b"]}
    assert (rest["pathParameters"], rest["stageVariables"]) == ({"id": "7"}, {"color": "blue"})
    assert _binary(rest) == BODY
    rest_context = rest["requestContext"]
    assert (rest_context["path"], rest_context["resourcePath"]) == ("/prod/items/7", "/items/{id}")
    assert (rest_context["stage"], rest_context["apiId"]) == ("prod", rest_api)

    client = lambdad.client()
    url = client.create_function_url_config(FunctionName=app["FunctionName"], AuthType="NONE")
    permit_url(client, app["FunctionName"])
    by_url = _send(port, urlsplit(url["FunctionUrl"]).netloc, "/items/7")
    assert set(by_url) == set(v2) - {"pathParameters", "stageVariables"}
    assert (by_url["routeKey"], by_url["rawPath"]) == ("$default", "/items/7")
    assert by_url["cookies"] == ["a=1", "b=2"]
    assert by_url["headers"]["x-rep"] == "1,2"
    assert by_url["queryStringParameters"] == {"q": "1,2", "r": "a b"}
    assert _binary(by_url) == BODY
    assert by_url["requestContext"]["accountId"] == "anonymous"
    assert "authorizer" not in by_url["requestContext"]

    dns, group = _balancer(lambdad, app, new_balancer)
    off = _send(port, dns, "/items/7")
    assert set(off) == {"requestContext", "httpMethod", "path", "queryStringParameters",
                        "headers", "body", "isBase64Encoded"}  # fmt: skip
    assert off["requestContext"] == {"elb": {"targetGroupArn": group}}
    assert (off["httpMethod"], off["path"]) == ("POST", "/items/7")
    # Without multi-value headers: the last value; the query is not decoded.
    assert (off["headers"]["x-rep"], off["headers"]["cookie"]) == ("2", "a=1; b=2")
    assert off["queryStringParameters"] == {"q": "2", "r": "a%20b"}
    assert _binary(off) == BODY
    lambdad.client("elbv2").modify_target_group_attributes(
        TargetGroupArn=group,
        Attributes=[{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}],
    )
    on = _send(port, dns, "/items/7")
    assert set(on) == {"requestContext", "httpMethod", "path", "multiValueQueryStringParameters",
                       "multiValueHeaders", "body", "isBase64Encoded"}  # fmt: skip
    assert on["multiValueHeaders"]["x-rep"] == ["1", "2"]
    assert on["multiValueQueryStringParameters"] == {"q": ["1", "2"], "r": ["a%20b"]}
    assert _binary(on) == BODY
