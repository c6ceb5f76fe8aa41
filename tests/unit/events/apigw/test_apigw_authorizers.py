"""Lambda authorizers in front of routes and methods, through the door with a fake
invoker: what the authorizer is asked, what its answer lets through, the context the
integration then sees, caching, and API Gateway's 401/403/500."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lambdad.events.apigw.door import ApiGatewayDoor
from lambdad.events.apigw.names import ApiAddress
from lambdad.events.apigw.service import ApiGateway
from lambdad.events.function_urls import Response
from lambdad.events.url_cache import UrlCache
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from unit.events.apigw.conftest import SCOPE, Call

APP = "arn:aws:lambda:us-east-1:111111111111:function:app"
AUTH = "arn:aws:lambda:us-east-1:111111111111:function:auth"
AUTH_URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{AUTH}/invocations"


class _Functions:
    """``app`` answers 200 with its event as the body; ``auth`` answers ``self.answer``."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: dict[str, list[dict[str, Any]]] = {"app": [], "auth": []}

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        event = json.loads(req.payload)
        self.events[req.function_name].append(event)
        if req.function_name == "auth":
            return InvokeResponse(200, json.dumps(self.answer).encode(), "$LATEST")
        return InvokeResponse(200, json.dumps({"statusCode": 200, "body": "ok"}).encode(), "1")


class _Policies:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool:
        self.asked.append(source_arn)
        return True


def _send(door: ApiGatewayDoor, api_id: str, path: str, headers: list[tuple[str, str]]) -> Response:
    address = ApiAddress(api_id, None, path)
    return asyncio.run(door.respond(address, "GET", "", headers, b"", source_ip="192.0.2.1"))


def _http_api(v2: Call, **authorizer: Any) -> tuple[str, str]:
    api_id = v2("CreateApi", {"Name": "a", "ProtocolType": "HTTP", "Target": APP,
                              "RouteKey": "GET /pets/{id}"})["ApiId"]  # fmt: skip
    made = v2("CreateAuthorizer", {"ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "auth",
                                   "AuthorizerUri": AUTH_URI,
                                   "IdentitySource": ["$request.header.Authorization"],
                                   **authorizer})  # fmt: skip
    (route,) = v2("GetRoutes", {"ApiId": api_id})["Items"]
    v2(
        "UpdateRoute",
        {
            "ApiId": api_id,
            "RouteId": route["RouteId"],
            "AuthorizationType": "CUSTOM",
            "AuthorizerId": made["AuthorizerId"],
        },
    )
    return api_id, made["AuthorizerId"]


def test_simple_responses(gateway: ApiGateway, v2: Call) -> None:
    api_id, authorizer_id = _http_api(v2, AuthorizerPayloadFormatVersion="2.0",
                                      EnableSimpleResponses=True)  # fmt: skip
    functions, policies = (
        _Functions({"isAuthorized": True, "context": {"user": "ada"}}),
        _Policies(),
    )
    door = gateway.door(functions, policies, UrlCache(ChangeHub()))
    token = [("authorization", "secret")]
    assert _send(door, api_id, "/pets/1", token)[0] == 200
    (asked,) = functions.events["auth"]
    assert asked["type"] == "REQUEST"
    assert asked["identitySource"] == ["secret"]
    assert asked["routeArn"] == (
        f"arn:aws:execute-api:us-east-1:{SCOPE.account}:{api_id}/$default/GET/pets/1"
    )
    assert asked["pathParameters"] == {"id": "1"}
    assert "body" not in asked
    (seen,) = functions.events["app"]
    assert seen["requestContext"]["authorizer"] == {"lambda": {"user": "ada"}}
    assert (
        f"arn:aws:execute-api:us-east-1:{SCOPE.account}:{api_id}/authorizers/{authorizer_id}"
        in policies.asked
    )

    missing = _send(door, api_id, "/pets/1", [])
    assert (missing[0], json.loads(missing[2])) == (401, {"message": "Unauthorized"})
    functions.answer = {"isAuthorized": False}
    denied = _send(door, api_id, "/pets/1", [("authorization", "other")])
    assert (denied[0], json.loads(denied[2])) == (403, {"message": "Forbidden"})
    functions.answer = {"isAuthorized": "maybe"}
    assert _send(door, api_id, "/pets/1", [("authorization", "third")])[0] == 500
    assert len(functions.events["auth"]) == 3  # TTL 0: asked every time


def test_answers_are_remembered_for_the_ttl(gateway: ApiGateway, v2: Call) -> None:
    api_id, _ = _http_api(v2, AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
                          AuthorizerResultTtlInSeconds=60)  # fmt: skip
    functions = _Functions({"isAuthorized": True})
    door = gateway.door(functions, _Policies(), UrlCache(ChangeHub()))
    for _ in range(3):
        assert _send(door, api_id, "/pets/1", [("authorization", "t")])[0] == 200
    assert len(functions.events["auth"]) == 1
    assert _send(door, api_id, "/pets/1", [("authorization", "u")])[0] == 200
    assert len(functions.events["auth"]) == 2
    gateway.clock.advance(61)  # type: ignore[attr-defined]
    assert _send(door, api_id, "/pets/1", [("authorization", "t")])[0] == 200
    assert len(functions.events["auth"]) == 3


def test_policy_answers_with_payload_1_0(gateway: ApiGateway, v2: Call) -> None:
    api_id, _ = _http_api(v2, AuthorizerPayloadFormatVersion="1.0")
    policy = {
        "principalId": "ada",
        "context": {"tier": "gold"},
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": f"arn:aws:execute-api:us-east-1:*:{api_id}/*/GET/*",
                }
            ],
        },
    }
    functions = _Functions(policy)
    door = gateway.door(functions, _Policies(), UrlCache(ChangeHub()))
    assert _send(door, api_id, "/pets/1", [("authorization", "t")])[0] == 200
    (asked,) = functions.events["auth"]
    assert (asked["version"], asked["type"], asked["authorizationToken"]) == ("1.0", "REQUEST", "t")
    assert asked["methodArn"].endswith(f"{api_id}/$default/GET/pets/1")


def _rest_api(v1: Call, **authorizer: Any) -> str:
    api = v1("CreateRestApi", {"name": "r"})
    made = v1("CreateAuthorizer", {"restApiId": api["id"], "name": "auth",
                                   "authorizerUri": AUTH_URI, **authorizer})  # fmt: skip
    proxy = v1("CreateResource", {"restApiId": api["id"], "parentId": api["rootResourceId"],
                                  "pathPart": "{proxy+}"})  # fmt: skip
    ids = {"restApiId": api["id"], "resourceId": proxy["id"], "httpMethod": "ANY"}
    v1("PutMethod", {**ids, "authorizationType": "CUSTOM", "authorizerId": made["id"]})
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{APP}/invocations"
    v1("PutIntegration", {**ids, "type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": uri})
    v1("CreateDeployment", {"restApiId": api["id"], "stageName": "prod"})
    return str(api["id"])


def test_rest_token_authorizer(gateway: ApiGateway, v1: Call) -> None:
    api_id = _rest_api(v1, type="TOKEN", identitySource="method.request.header.Authorization",
                       identityValidationExpression="Bearer .+")  # fmt: skip
    allow = {
        "principalId": "ada",
        "context": {"tier": "gold"},
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
        },
    }
    functions = _Functions(allow)
    door = gateway.door(functions, _Policies(), UrlCache(ChangeHub()))
    assert _send(door, api_id, "/prod/a", [("authorization", "Bearer x")])[0] == 200
    (asked,) = functions.events["auth"]
    assert asked == {"type": "TOKEN", "authorizationToken": "Bearer x",
                     "methodArn": f"arn:aws:execute-api:us-east-1:{SCOPE.account}:{api_id}"
                                  "/prod/GET/a"}  # fmt: skip
    (seen,) = functions.events["app"]
    assert seen["requestContext"]["authorizer"] == {
        "tier": "gold", "principalId": "ada", "integrationLatency": 0,
    }  # fmt: skip
    invalid = _send(door, api_id, "/prod/a", [("authorization", "Basic x")])
    assert (invalid[0], json.loads(invalid[2])) == (401, {"message": "Unauthorized"})
    assert len(functions.events["auth"]) == 1
    functions.answer = {
        **allow,
        "policyDocument": {
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"}]
        },
    }
    denied = _send(door, api_id, "/prod/a", [("authorization", "Bearer other")])
    assert denied[0] == 403
    assert json.loads(denied[2]) == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    # The first token's answer is remembered (300 s by default): still allowed.
    assert _send(door, api_id, "/prod/a", [("authorization", "Bearer x")])[0] == 200


def test_rest_request_authorizer_failing(gateway: ApiGateway, v1: Call) -> None:
    api_id = _rest_api(v1, type="REQUEST", identitySource="method.request.querystring.key",
                       authorizerResultTtlInSeconds=0)  # fmt: skip
    functions = _Functions("not a policy")
    door = gateway.door(functions, _Policies(), UrlCache(ChangeHub()))
    address = ApiAddress(api_id, None, "/prod/a")
    failed = asyncio.run(door.respond(address, "GET", "key=1", [], b"", source_ip="192.0.2.1"))
    assert (failed[0], json.loads(failed[2])) == (500, {"message": None})
    (asked,) = functions.events["auth"]
    assert (asked["type"], asked["resource"], asked["queryStringParameters"]) == (
        "REQUEST",
        "/{proxy+}",
        {"key": "1"},
    )
    assert functions.events["app"] == []


def test_aws_iam_routes_and_methods(gateway: ApiGateway, v2: Call, v1: Call) -> None:
    from lambdad.events.http.request import IamCaller

    signer = IamCaller("AKID", SCOPE.account, SCOPE.account,
                       f"arn:aws:iam::{SCOPE.account}:root", SCOPE.account)  # fmt: skip
    signed: list[tuple[str, str]] = []

    def verify(method: str, path: str, query: str, headers: Any, body: bytes,
               region: str) -> IamCaller | None:  # fmt: skip
        signed.append((method, path))
        return signer if ("authorization", "good") in headers else None

    api_id = v2("CreateApi", {"Name": "i", "ProtocolType": "HTTP", "Target": APP})["ApiId"]
    (route,) = v2("GetRoutes", {"ApiId": api_id})["Items"]
    v2("UpdateRoute", {"ApiId": api_id, "RouteId": route["RouteId"],
                       "AuthorizationType": "AWS_IAM"})  # fmt: skip
    functions = _Functions(None)
    door = gateway.door(functions, _Policies(), UrlCache(ChangeHub()), verify)
    address = ApiAddress(api_id, None, "/x")
    refused = asyncio.run(door.respond(address, "GET", "", [], b"", source_ip="192.0.2.1",
                                       wire_path=f"/execute-api/{api_id}/x"))  # fmt: skip
    assert (refused[0], json.loads(refused[2])) == (403, {"message": "Forbidden"})
    assert signed == [("GET", f"/execute-api/{api_id}/x")]
    assert _send(door, api_id, "/x", [("authorization", "good")])[0] == 200
    iam = functions.events["app"][0]["requestContext"]["authorizer"]["iam"]
    assert (iam["accessKey"], iam["accountId"]) == ("AKID", SCOPE.account)

    rest = v1("CreateRestApi", {"name": "r"})
    ids = {"restApiId": rest["id"], "resourceId": rest["rootResourceId"], "httpMethod": "GET"}
    v1("PutMethod", {**ids, "authorizationType": "AWS_IAM"})
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{APP}/invocations"
    v1("PutIntegration", {**ids, "type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": uri})
    v1("CreateDeployment", {"restApiId": rest["id"], "stageName": "s"})
    missing = _send(door, rest["id"], "/s/", [])
    assert (missing[0], json.loads(missing[2])) == (
        403,
        {"message": "Missing Authentication Token"},
    )
    assert _send(door, rest["id"], "/s/", [("authorization", "bad")])[0] == 403
    assert _send(door, rest["id"], "/s/", [("authorization", "good")])[0] == 200
    identity = functions.events["app"][-1]["requestContext"]["identity"]
    assert (identity["accessKey"], identity["userArn"]) == ("AKID", signer.user_arn)
