"""API Gateway HTTP APIs (``AWS::ApiGatewayV2::Api`` with SAM's OpenAPI ``Body`` or a
quick-create ``Target``, ``Integration``, ``Route``, ``Stage``) through lambdad's
``apigatewayv2`` API. A ``Body`` is applied as integrations and routes; a changed
``Body`` replaces them in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy.api_definitions import routes
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
        body = props.get("Body") or {}
        name = props.get("Name") or (body.get("info") or {}).get("title") or logical_id
        args = {"Name": str(name), "ProtocolType": props.get("ProtocolType", "HTTP")}
        args.update(pick(props, "Description", "Target", "RouteKey", "CorsConfiguration"))
        if body.get("x-amazon-apigateway-cors"):
            args["CorsConfiguration"] = _cors(body["x-amazon-apigateway-cors"])
        made = _v2(env).create_api(**args)
        api_id = made["ApiId"]
        try:
            _apply_body(env, api_id, body)
        except Exception:
            _missing(lambda: _v2(env).delete_api(ApiId=api_id))
            raise
        return Applied(api_id, {"Ref": api_id, "ApiId": api_id, "ApiEndpoint": made["ApiEndpoint"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        api_id = record.physical_id
        if props.get("Body") != record.properties.get("Body"):
            client = _v2(env)
            for route in client.get_routes(ApiId=api_id)["Items"]:
                client.delete_route(ApiId=api_id, RouteId=route["RouteId"])
            for integration in client.get_integrations(ApiId=api_id)["Items"]:
                client.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
            _apply_body(env, api_id, props.get("Body") or {})
        return Applied(api_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        _missing(lambda: _v2(env).delete_api(ApiId=record.physical_id))


def _cors(spec: Mapping[str, Any]) -> dict[str, Any]:
    names = {"allowOrigins": "AllowOrigins", "allowMethods": "AllowMethods",
             "allowHeaders": "AllowHeaders", "exposeHeaders": "ExposeHeaders",
             "maxAge": "MaxAge", "allowCredentials": "AllowCredentials"}  # fmt: skip
    return {names[k]: v for k, v in spec.items() if k in names}


def _apply_body(env: Env, api_id: str, body: Mapping[str, Any]) -> None:
    client = _v2(env)
    for route in routes(body):
        integration = client.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=route.uri,
            PayloadFormatVersion=route.payload_format or "2.0",
        )
        key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
        client.create_route(
            ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}"
        )


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


class RouteHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        made = _v2(env).create_route(
            **pick(props, "ApiId", "RouteKey", "Target", "AuthorizationType")
        )
        return Applied(made["RouteId"], {"Ref": made["RouteId"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        _v2(env).update_route(
            RouteId=record.physical_id, **pick(props, "ApiId", "RouteKey", "Target")
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        api = record.properties["ApiId"]
        _missing(lambda: _v2(env).delete_route(ApiId=api, RouteId=record.physical_id))


class HttpStageHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        _v2(env).create_stage(
            **pick(props, "ApiId", "StageName", "AutoDeploy", "StageVariables", "Description")
        )
        return Applied(str(props["StageName"]), {"Ref": props["StageName"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        _v2(env).update_stage(
            **pick(props, "ApiId", "StageName", "AutoDeploy", "StageVariables", "Description")
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        api = record.properties["ApiId"]
        _missing(lambda: _v2(env).delete_stage(ApiId=api, StageName=record.physical_id))
