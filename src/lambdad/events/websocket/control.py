"""The WebSocket side of ``apigatewayv2``'s control operations.

WebSocket APIs are stored as HTTP APIs are (``events.apigw.api_store``, one document
per API, ``ProtocolType`` ``WEBSOCKET``), and ``events.apigw``'s operations create,
read and deploy them; here are the rules that differ, which those operations call:
a ``RouteSelectionExpression`` is required (``selection.valid_expression``); route
keys are ``$connect``, ``$disconnect``, ``$default`` or a custom key (at most 128
characters, no other ``$`` key); integrations are ``AWS_PROXY`` with payload format
``1.0`` (the only one WebSocket APIs have). And the route responses
(``CreateRouteResponse``…), kept in their route (so a deployment's snapshot carries
them): the only key is ``$default``; with them, the integration responses'
operations (``integration_responses``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lambdad.errors import BadRequestException, ConflictException
from lambdad.events.apigw import names as apigw_names
from lambdad.events.apigw import paging
from lambdad.events.apigw.api_store import HTTP, ApiStore
from lambdad.events.websocket import names, selection
from lambdad.events.websocket.integration_responses import IntegrationResponses
from lambdad.model.scope import Scope

Params = dict[str, Any]
RESPONSES: Final = "RouteResponses"
# An integration's longest timeout, and its default (botocore: 29 seconds for WebSocket APIs).
TIMEOUT_MS: Final = 29_000
_IDENTITY_PREFIXES: Final = (
    "route.request.header.",
    "route.request.querystring.",
    "stageVariables.",
)
_API_KEY_SELECTIONS: Final = (
    "$request.header.x-api-key",
    "$context.authorizer.usageIdentifierKey",
)
_RESPONSE_FIELDS: Final = (
    "ModelSelectionExpression",
    "ResponseModels",
    "ResponseParameters",
    "RouteResponseKey",
)


def is_websocket(doc: Params) -> bool:
    return bool(doc.get("Api", {}).get("ProtocolType") == names.WEBSOCKET)


def check_new_api(params: Params) -> None:
    if not params.get("RouteSelectionExpression"):
        raise BadRequestException("RouteSelectionExpression is required for WEBSOCKET APIs")
    check_api_update(params)
    for quick in ("Target", "RouteKey", "CredentialsArn", "CorsConfiguration"):
        if quick in params:
            raise BadRequestException(f"{quick} is not supported for WEBSOCKET APIs")


def check_api_update(params: Params) -> None:
    """The selection expressions of a CreateApi or UpdateApi of a WebSocket API: a
    route selection API Gateway takes, and one of the two API key selections it knows
    ("$request.header.x-api-key", "$context.authorizer.usageIdentifierKey")."""
    if "RouteSelectionExpression" in params:
        expression = params["RouteSelectionExpression"]
        if not expression or not selection.valid_expression(expression):
            raise BadRequestException(f"Invalid RouteSelectionExpression: {expression}")
    key = params.get("ApiKeySelectionExpression")
    if key is not None and key not in _API_KEY_SELECTIONS:
        raise BadRequestException(f"Invalid ApiKeySelectionExpression: {key}")


def check_route_key(key: str) -> None:
    if key in names.RESERVED:
        return
    if not key or len(key) > names.MAX_ROUTE_KEY or key.startswith("$"):
        raise BadRequestException(
            f"Unable to create route with key '{key}'. Route keys for WebSocket APIs must "
            "be $connect, $disconnect, $default or a custom key of at most 128 characters."
        )


def check_route_authorization(route: Params) -> None:
    """Only ``$connect`` is authorized (``AWS_IAM`` or a ``CUSTOM`` Lambda authorizer)."""
    kind = route.get("AuthorizationType", "NONE")
    if kind == "NONE":
        return
    if route["RouteKey"] != names.CONNECT:
        raise BadRequestException(
            "Currently, authorization is restricted to the $connect route only"
        )
    if kind not in ("AWS_IAM", "CUSTOM"):
        raise BadRequestException(f"WebSocket APIs do not support AuthorizationType {kind}")


def check_authorizer(authorizer: Params) -> None:
    """A WebSocket API's authorizer: a Lambda ``REQUEST`` authorizer whose identity
    sources name the ``$connect`` request's headers and query, or stage variables."""
    if authorizer.get("AuthorizerType") != "REQUEST":
        raise BadRequestException("WebSocket APIs support REQUEST authorizers only")
    if not authorizer.get("AuthorizerUri"):
        raise BadRequestException("AuthorizerUri is required for REQUEST authorizers")
    for key in ("AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "JwtConfiguration"):
        if key in authorizer:
            raise BadRequestException(f"{key} is not supported for WebSocket APIs")
    if authorizer.get("AuthorizerResultTtlInSeconds"):
        # botocore: "Supported only for HTTP API Lambda authorizers" (wording lambdad's).
        raise BadRequestException(
            "AuthorizerResultTtlInSeconds is supported only for HTTP API Lambda authorizers"
        )
    for source in authorizer.get("IdentitySource") or ():
        if not source.startswith(_IDENTITY_PREFIXES) or source in _IDENTITY_PREFIXES:
            raise BadRequestException(f"Invalid identity source: {source}")


def check_route_response_expression(route: Params) -> None:
    expression = route.get("RouteResponseSelectionExpression")
    if expression not in (None, "", names.ROUTE_RESPONSE_KEY):
        raise BadRequestException(
            f"Invalid RouteResponseSelectionExpression: {expression}. WebSocket APIs "
            "support only $default"
        )


def check_integration(integration: Params) -> None:
    """A WebSocket API's integration: ``AWS_PROXY``, payload format 1.0 (the default)."""
    if integration.get("IntegrationType") != "AWS_PROXY":
        raise BadRequestException("lambdad serves AWS_PROXY (Lambda) integrations only")
    if "IntegrationUri" not in integration:
        raise BadRequestException("IntegrationUri is required for AWS_PROXY integrations")
    integration.setdefault("PayloadFormatVersion", "1.0")
    if integration["PayloadFormatVersion"] != "1.0":
        raise BadRequestException("WebSocket APIs support PayloadFormatVersion 1.0 only")
    timeout = integration.get("TimeoutInMillis", TIMEOUT_MS)
    if not isinstance(timeout, int) or not 50 <= timeout <= TIMEOUT_MS:
        # botocore: between 50 and 29,000 ms for WebSocket APIs (wording lambdad's).
        raise BadRequestException(
            f"TimeoutInMillis must be between 50 and {TIMEOUT_MS} for WebSocket APIs"
        )


class RouteResponses:
    def __init__(self, store: ApiStore) -> None:
        self.store = store

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        # The integration responses' operations travel with these: the platform
        # registers this class's operations as the WebSocket-only ones.
        return {
            **IntegrationResponses(self.store).operations(),
            "CreateRouteResponse": self.create_route_response,
            "GetRouteResponse": self.get_route_response,
            "GetRouteResponses": self.get_route_responses,
            "UpdateRouteResponse": self.update_route_response,
            "DeleteRouteResponse": self.delete_route_response,
        }

    def create_route_response(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            route = _route(doc, params["RouteId"])
            responses = route.setdefault(RESPONSES, {})
            _check_key(params["RouteResponseKey"])
            if any(r["RouteResponseKey"] == params["RouteResponseKey"] for r in responses.values()):
                raise ConflictException(
                    f"Route response with key {params['RouteResponseKey']} already exists"
                )
            response: Params = {"RouteResponseId": _fresh_id(responses)}
            response.update({k: params[k] for k in _RESPONSE_FIELDS if k in params})
            responses[response["RouteResponseId"]] = response
            return dict(response)

    def get_route_response(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        return dict(_response(_route(doc, params["RouteId"]), params["RouteResponseId"]))

    def get_route_responses(self, scope: Scope, params: Params) -> Params:
        route = _route(self.store.get(HTTP, scope, params["ApiId"]), params["RouteId"])
        items = list((route.get(RESPONSES) or {}).values())
        listing = f"routeresponses/{params['ApiId']}/{params['RouteId']}"
        return paging.v2_page(items, params, listing=listing, key="RouteResponseId")

    def update_route_response(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            response = _response(_route(doc, params["RouteId"]), params["RouteResponseId"])
            if "RouteResponseKey" in params:
                _check_key(params["RouteResponseKey"])
            response.update({k: params[k] for k in _RESPONSE_FIELDS if k in params})
            return dict(response)

    def delete_route_response(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            route = _route(doc, params["RouteId"])
            _response(route, params["RouteResponseId"])
            del route[RESPONSES][params["RouteResponseId"]]
        return {}


def _check_key(key: str) -> None:
    if key != names.ROUTE_RESPONSE_KEY:
        raise BadRequestException(
            f"Invalid RouteResponseKey: {key}. WebSocket APIs support only $default"
        )


def _route(doc: Params, route_id: str) -> Params:
    if not is_websocket(doc):
        raise BadRequestException("Route responses are supported for WebSocket APIs only")
    return apigw_names.part(doc["Routes"], route_id, "Route")


def _response(route: Params, response_id: str) -> Params:
    return apigw_names.part(route.get(RESPONSES) or {}, response_id, "RouteResponse")


def _fresh_id(taken: Params) -> str:
    return apigw_names.unused_id(taken, 7)
