"""An HTTP API's routes and integrations (``apigatewayv2``), and quick create.

A route key is ``$default`` or ``METHOD /path`` (``route_match.parse_route_key``),
unique in its API; its ``Target`` is ``integrations/<id>`` of an integration of the
same API. Integrations are ``AWS_PROXY`` to a Lambda function (its ARN, or the
``arn:aws:apigateway:…:lambda:path/2015-03-31/functions/<arn>/invocations`` form),
with ``PayloadFormatVersion`` ``1.0`` or ``2.0``; lambdad runs no other kind, and
says so rather than storing an integration it cannot serve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import BadRequestException, ConflictException
from lambdad.events.apigw import http_stages, names, paging
from lambdad.events.apigw.api_store import HTTP, ApiStore
from lambdad.events.apigw.http_authorizers import HttpAuthorizers, check_route_auth, new_authorizer
from lambdad.events.apigw.openapi_import import ImportedRoute
from lambdad.events.apigw.openapi_security import IAM
from lambdad.events.apigw.route_match import parse_route_key
from lambdad.events.websocket import control as websocket
from lambdad.model.scope import Scope

Params = dict[str, Any]
PART_ID_LENGTH: Final = 7
TARGET_PREFIX: Final = "integrations/"
PAYLOAD_VERSIONS: Final = ("1.0", "2.0")
_ROUTE_FIELDS: Final = (
    "ApiKeyRequired",
    "AuthorizationScopes",
    "AuthorizationType",
    "AuthorizerId",
    "ModelSelectionExpression",
    "OperationName",
    "RequestModels",
    "RequestParameters",
    "RouteKey",
    "RouteResponseSelectionExpression",
    "Target",
)
_INTEGRATION_FIELDS: Final = (
    "ConnectionType",
    "Description",
    "IntegrationMethod",
    "IntegrationType",
    "IntegrationUri",
    "PayloadFormatVersion",
    "RequestParameters",
    "TimeoutInMillis",
)


def quick_create(doc: Params, target: str, route_key: str | None, clock: Clock) -> None:
    """Add quick create's integration, route and ``$default`` stage to a new API."""
    integration = _new_integration(
        doc,
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": target, "PayloadFormatVersion": "2.0"},
        managed=True,
    )
    _new_route(
        doc,
        {
            "RouteKey": route_key or "$default",
            "Target": TARGET_PREFIX + integration["IntegrationId"],
        },
        managed=True,
    )
    http_stages.new_stage(
        doc, {"StageName": names.DEFAULT_STAGE, "AutoDeploy": True}, clock, managed=True
    )


def add_imported_routes(
    doc: Params, routes: Iterable[ImportedRoute], schemes: Mapping[str, Params]
) -> None:
    """Add an imported definition's authorizers and routes, each route with its own
    integration (as AWS's import makes them)."""
    made = {name: new_authorizer(doc, params)["AuthorizerId"] for name, params in schemes.items()}
    for route in routes:
        params: Params = {"RouteKey": route.route_key}
        if route.integration is not None:
            integration = _new_integration(doc, route.integration)
            params["Target"] = TARGET_PREFIX + integration["IntegrationId"]
        if route.auth is not None and route.auth.scheme == IAM:
            params["AuthorizationType"] = "AWS_IAM"
        elif route.auth is not None:
            kind = schemes[route.auth.scheme]["AuthorizerType"]
            params["AuthorizationType"] = "JWT" if kind == "JWT" else "CUSTOM"
            params["AuthorizerId"] = made[route.auth.scheme]
            if route.auth.scopes:
                params["AuthorizationScopes"] = list(route.auth.scopes)
        _new_route(doc, params)


class HttpParts:
    def __init__(self, store: ApiStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        stages = http_stages.HttpStages(self.store, self.clock)
        return {
            "CreateRoute": self.create_route,
            "GetRoute": self.get_route,
            "GetRoutes": self.get_routes,
            "UpdateRoute": self.update_route,
            "DeleteRoute": self.delete_route,
            "CreateIntegration": self.create_integration,
            "GetIntegration": self.get_integration,
            "GetIntegrations": self.get_integrations,
            "UpdateIntegration": self.update_integration,
            "DeleteIntegration": self.delete_integration,
            **stages.operations(),
            **HttpAuthorizers(self.store).operations(),
        }

    # -- routes -------------------------------------------------------------------------

    def create_route(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            return dict(_new_route(doc, params))

    def get_route(self, scope: Scope, params: Params) -> Params:
        return dict(_route(self.store.get(HTTP, scope, params["ApiId"]), params["RouteId"]))

    def get_routes(self, scope: Scope, params: Params) -> Params:
        routes = list(self.store.get(HTTP, scope, params["ApiId"])["Routes"].values())
        return paging.v2_page(routes, params, listing=f"routes/{params['ApiId']}", key="RouteId")

    def update_route(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            route = _route(doc, params["RouteId"])
            changed: Params = {**route, **{k: params[k] for k in _ROUTE_FIELDS if k in params}}
            _check_route(doc, changed, route["RouteId"])
            route.update(changed)
            return dict(route)

    def delete_route(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            _route(doc, params["RouteId"])
            del doc["Routes"][params["RouteId"]]
        return {}

    # -- integrations -------------------------------------------------------------------

    def create_integration(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            return dict(_new_integration(doc, params))

    def get_integration(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        return dict(_integration(doc, params["IntegrationId"]))

    def get_integrations(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        listing = f"integrations/{params['ApiId']}"
        items = list(doc["Integrations"].values())
        return paging.v2_page(items, params, listing=listing, key="IntegrationId")

    def update_integration(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            integration = _integration(doc, params["IntegrationId"])
            updates: Params = {k: params[k] for k in _INTEGRATION_FIELDS if k in params}
            changed: Params = {**integration, **updates}
            _check_integration(doc, changed)
            integration.update(changed)
            return dict(integration)

    def delete_integration(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            integration_id = params["IntegrationId"]
            _integration(doc, integration_id)
            if any(
                r.get("Target") == TARGET_PREFIX + integration_id for r in doc["Routes"].values()
            ):
                raise ConflictException(
                    f"Integration {integration_id} is used by a route and cannot be deleted"
                )
            del doc["Integrations"][integration_id]
        return {}


def _new_route(doc: Params, params: Params, *, managed: bool = False) -> Params:
    route: Params = {
        "ApiKeyRequired": False,
        "AuthorizationType": "NONE",
        "RouteId": _fresh_id(doc["Routes"]),
    }
    route.update({k: params[k] for k in _ROUTE_FIELDS if k in params})
    if managed:
        route["ApiGatewayManaged"] = True
    _check_route(doc, route, route["RouteId"])
    doc["Routes"][route["RouteId"]] = route
    return route


def _check_route(doc: Params, route: Params, route_id: str) -> None:
    key = route["RouteKey"]
    if websocket.is_websocket(doc):
        websocket.check_route_key(key)
        websocket.check_route_response_expression(route)
        websocket.check_route_authorization(route)
    elif parse_route_key(key) is None:
        raise BadRequestException(
            f"Unable to create route with key '{key}'. Route keys must "
            "be '$default' or 'METHOD /path'."
        )
    if any(r["RouteKey"] == key and rid != route_id for rid, r in doc["Routes"].items()):
        raise ConflictException(f"Route with key {key} already exists for this API")
    check_route_auth(doc, route)
    target = route.get("Target")
    if target is not None:
        integration_id = target.removeprefix(TARGET_PREFIX)
        if not target.startswith(TARGET_PREFIX) or integration_id not in doc["Integrations"]:
            raise BadRequestException(f"Invalid target: {target}")


def _route(doc: Params, route_id: str) -> Params:
    return names.part(doc["Routes"], route_id, "Route")


def _new_integration(doc: Params, params: Params, *, managed: bool = False) -> Params:
    integration: Params = {
        "ConnectionType": "INTERNET",
        "IntegrationId": _fresh_id(doc["Integrations"]),
        "IntegrationMethod": "POST",
        # botocore: 29 seconds by default for WebSocket APIs, 30 for HTTP APIs.
        "TimeoutInMillis": websocket.TIMEOUT_MS if websocket.is_websocket(doc) else 30000,
    }
    integration.update({k: params[k] for k in _INTEGRATION_FIELDS if k in params})
    if managed:
        integration["ApiGatewayManaged"] = True
    _check_integration(doc, integration)
    doc["Integrations"][integration["IntegrationId"]] = integration
    return integration


def _check_integration(doc: Params, integration: Params) -> None:
    if websocket.is_websocket(doc):
        websocket.check_integration(integration)
        return
    if integration["IntegrationType"] != "AWS_PROXY":
        raise BadRequestException("lambdad serves AWS_PROXY (Lambda) integrations only")
    if "IntegrationUri" not in integration:
        raise BadRequestException("IntegrationUri is required for AWS_PROXY integrations")
    version = integration.get("PayloadFormatVersion")
    if version is None:
        raise BadRequestException("PayloadFormatVersion is required for AWS_PROXY integrations")
    if version not in PAYLOAD_VERSIONS:
        raise BadRequestException(f"Invalid PayloadFormatVersion: {version}")


def _integration(doc: Params, integration_id: str) -> Params:
    return names.part(doc["Integrations"], integration_id, "Integration")


def _fresh_id(taken: Params) -> str:
    return names.unused_id(taken, PART_ID_LENGTH)
