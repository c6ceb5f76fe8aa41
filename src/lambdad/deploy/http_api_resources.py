"""API Gateway HTTP APIs (``AWS::ApiGatewayV2::Api`` with SAM's OpenAPI ``Body`` or a
quick-create ``Target``, ``Integration``, ``Route``, ``Stage``, ``Authorizer``) through lambdad's
``apigatewayv2`` API. A ``Body`` is imported (``ImportApi``, as CloudFormation does);
a changed ``Body`` is imported again over the API (``ReimportApi``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, ignore_missing, pick


def _v2(env: Env) -> Any:
    return env.client("apigatewayv2")


def _missing(call: Any) -> None:
    try:
        ignore_missing(call)
    except Exception as exc:
        if "NotFound" not in type(exc).__name__ and "NotFound" not in str(exc):
            raise


class HttpApiHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        body = props.get("Body")
        if body:
            made = _v2(env).import_api(Body=_text(body))
        else:
            args = {"Name": str(props.get("Name") or logical_id)}
            args["ProtocolType"] = props.get("ProtocolType", "HTTP")
            args.update(pick(props, "Description", "Target", "RouteKey", "CorsConfiguration",
                             "RouteSelectionExpression"))  # fmt: skip
            made = _v2(env).create_api(**args)
        api_id = made["ApiId"]
        return Applied(api_id, {"Ref": api_id, "ApiId": api_id, "ApiEndpoint": made["ApiEndpoint"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        api_id = record.physical_id
        body = props.get("Body")
        if body and body != record.properties.get("Body"):
            _v2(env).reimport_api(ApiId=api_id, Body=_text(body))
        elif not body:
            args = pick(
                props, "Name", "Description", "CorsConfiguration", "RouteSelectionExpression"
            )
            if args:
                _v2(env).update_api(ApiId=api_id, **args)
        return Applied(api_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        _missing(lambda: _v2(env).delete_api(ApiId=record.physical_id))


def _text(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body)


class IntegrationHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        made = _v2(env).create_integration(
            **pick(
                props,
                "ApiId",
                "IntegrationType",
                "IntegrationUri",
                "PayloadFormatVersion",
                "IntegrationMethod",
                "TimeoutInMillis",
                "Description",
            )
        )
        return Applied(made["IntegrationId"], {"Ref": made["IntegrationId"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        _v2(env).update_integration(
            IntegrationId=record.physical_id,
            **pick(props, "ApiId", "IntegrationUri", "PayloadFormatVersion", "TimeoutInMillis"),
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        api = record.properties["ApiId"]
        _missing(lambda: _v2(env).delete_integration(ApiId=api, IntegrationId=record.physical_id))


# A route's authorization, and (WebSocket routes) whether it answers the client.
_ROUTE_AUTH = ("AuthorizationType", "AuthorizerId", "AuthorizationScopes",
               "RouteResponseSelectionExpression")  # fmt: skip
_AUTHORIZER = (
    "AuthorizerType", "Name", "IdentitySource", "JwtConfiguration", "AuthorizerUri",
    "AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "AuthorizerResultTtlInSeconds",
)  # fmt: skip


class RouteHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        made = _v2(env).create_route(**pick(props, "ApiId", "RouteKey", "Target", *_ROUTE_AUTH))
        return Applied(made["RouteId"], {"Ref": made["RouteId"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        _v2(env).update_route(
            RouteId=record.physical_id, **pick(props, "ApiId", "RouteKey", "Target", *_ROUTE_AUTH)
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        api = record.properties["ApiId"]
        _missing(lambda: _v2(env).delete_route(ApiId=api, RouteId=record.physical_id))


class HttpStageHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        _v2(env).create_stage(
            **pick(props, "ApiId", "StageName", "AutoDeploy", "StageVariables", "Description",
                   "DeploymentId")
        )  # fmt: skip
        return Applied(str(props["StageName"]), {"Ref": props["StageName"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        _v2(env).update_stage(
            **pick(props, "ApiId", "StageName", "AutoDeploy", "StageVariables", "Description",
                   "DeploymentId")
        )  # fmt: skip
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        api = record.properties["ApiId"]
        _missing(lambda: _v2(env).delete_stage(ApiId=api, StageName=record.physical_id))


class AuthorizerHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        made = _v2(env).create_authorizer(**pick(props, "ApiId", *_AUTHORIZER))
        authorizer_id = made["AuthorizerId"]
        return Applied(authorizer_id, {"Ref": authorizer_id, "AuthorizerId": authorizer_id})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        _v2(env).update_authorizer(
            AuthorizerId=record.physical_id, **pick(props, "ApiId", *_AUTHORIZER)
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        api = record.properties["ApiId"]
        _missing(lambda: _v2(env).delete_authorizer(ApiId=api, AuthorizerId=record.physical_id))
