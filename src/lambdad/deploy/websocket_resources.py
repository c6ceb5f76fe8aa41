"""The CloudFormation resources WebSocket APIs add to ``http_api_resources``
(``AWS::ApiGatewayV2::Deployment``, ``AWS::ApiGatewayV2::RouteResponse``), through
lambdad's ``apigatewayv2`` API. A deployment goes with its API (lambdad's
``apigatewayv2`` has no DeleteDeployment); a stage names it by ``DeploymentId``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, ignore_missing, pick

_RESPONSE = ("RouteResponseKey", "ModelSelectionExpression", "ResponseModels",
             "ResponseParameters")  # fmt: skip


class ApiDeploymentHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        made = env.client("apigatewayv2").create_deployment(
            **pick(props, "ApiId", "StageName", "Description")
        )
        deployment = made["DeploymentId"]
        return Applied(deployment, {"Ref": deployment, "DeploymentId": deployment})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        return None


class RouteResponseHandler:
    def create(self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: Any) -> Applied:
        made = env.client("apigatewayv2").create_route_response(
            **pick(props, "ApiId", "RouteId", *_RESPONSE)
        )
        return Applied(made["RouteResponseId"], {"Ref": made["RouteResponseId"]})

    def update(self, env: Env, record: Any, props: Mapping[str, Any]) -> Applied:
        env.client("apigatewayv2").update_route_response(
            RouteResponseId=record.physical_id, **pick(props, "ApiId", "RouteId", *_RESPONSE)
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: Any) -> None:
        props = record.properties
        ignore_missing(
            lambda: env.client("apigatewayv2").delete_route_response(
                ApiId=props["ApiId"], RouteId=props["RouteId"], RouteResponseId=record.physical_id
            )
        )
