"""HTTP APIs (``apigatewayv2``): creating, reading, changing and deleting APIs,
quick create included.

Operations take the caller's ``Scope`` and the parameters by botocore's member names
(``Name``, ``ProtocolType``…) and answer the output members the same way; the API
adapter renames them to and from the wire. Times are kept as epoch seconds.

Quick create (``CreateApi`` with ``Target``): an ``AWS_PROXY`` integration with payload
format 2.0, a route (``RouteKey``, default ``$default``) targeting it, and a
``$default`` stage that deploys automatically, all marked ``ApiGatewayManaged``, as
AWS makes them. A ``WEBSOCKET`` API is kept the same way (``events.websocket.control``
has the rules that differ); its ``ApiEndpoint`` is ``ws://``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import BadRequestException
from lambdad.events.apigw import http_parts, names, paging
from lambdad.events.apigw.api_store import HTTP, ApiStore
from lambdad.events.apigw.openapi_import import read_definition
from lambdad.events.websocket import control as websocket
from lambdad.model.scope import Scope

Params = dict[str, Any]
_UPDATABLE: Final = (
    "ApiKeySelectionExpression",
    "CorsConfiguration",
    "Description",
    "DisableExecuteApiEndpoint",
    "DisableSchemaValidation",
    "Name",
    "RouteSelectionExpression",
    "Version",
    "IpAddressType",
)


class HttpApis:
    def __init__(self, store: ApiStore, clock: Clock, port: int) -> None:
        self.store = store
        self.clock = clock
        self.port = port

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        parts = http_parts.HttpParts(self.store, self.clock)
        return {
            "CreateApi": self.create_api,
            "GetApi": self.get_api,
            "GetApis": self.get_apis,
            "UpdateApi": self.update_api,
            "DeleteApi": self.delete_api,
            "ImportApi": self.import_api,
            "ReimportApi": self.reimport_api,
            **parts.operations(),
        }

    def create_api(self, scope: Scope, params: Params) -> Params:
        protocol = params["ProtocolType"]
        if protocol not in ("HTTP", "WEBSOCKET"):
            raise BadRequestException(f"Invalid ProtocolType: {protocol}")
        if protocol == "WEBSOCKET":
            websocket.check_new_api(params)
        if "Target" not in params and "RouteKey" in params:
            raise BadRequestException("RouteKey is only supported with Target (quick create)")
        api_id = names.new_id()
        api: Params = {
            "ApiId": api_id,
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "CreatedDate": self.clock.now().timestamp(),
            "DisableExecuteApiEndpoint": False,
            "IpAddressType": "ipv4",
            "Name": params["Name"],
            "ProtocolType": protocol,
            "RouteSelectionExpression": "$request.method $request.path",
            "Tags": dict(params.get("Tags") or {}),
        }
        for key in _UPDATABLE:
            if key in params:
                api[key] = params[key]
        doc: Params = {
            "ApiId": api_id,
            "Api": api,
            "Routes": {},
            "Integrations": {},
            "Stages": {},
            "Deployments": {},
        }
        if "Target" in params:
            http_parts.quick_create(doc, params["Target"], params.get("RouteKey"), self.clock)
        self.store.create(HTTP, scope, doc)
        return self._view(scope, api)

    def get_api(self, scope: Scope, params: Params) -> Params:
        return self._view(scope, self.store.get(HTTP, scope, params["ApiId"])["Api"])

    def get_apis(self, scope: Scope, params: Params) -> Params:
        docs = self.store.list(HTTP, scope)
        apis = sorted((doc["Api"] for doc in docs), key=lambda a: (a["CreatedDate"], a["ApiId"]))
        out = paging.v2_page(apis, params, listing="apis", key="ApiId")
        return {**out, "Items": [self._view(scope, api) for api in out["Items"]]}

    def update_api(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            if websocket.is_websocket(doc):
                websocket.check_api_update(params)
            for key in _UPDATABLE:
                if key in params:
                    doc["Api"][key] = params[key]
            api = doc["Api"]
        return self._view(scope, api)

    def delete_api(self, scope: Scope, params: Params) -> Params:
        self.store.delete(HTTP, scope, params["ApiId"])
        return {}

    def import_api(self, scope: Scope, params: Params) -> Params:
        imported = read_definition(params["Body"], params.get("Basepath"))
        api = self.create_api(scope, {**imported.api, "ProtocolType": "HTTP"})
        with self.store.edit(HTTP, scope, api["ApiId"]) as doc:
            http_parts.add_imported_routes(doc, imported.routes, imported.authorizers)
        return api

    def reimport_api(self, scope: Scope, params: Params) -> Params:
        """The API's routes and integrations replaced by the definition's (its stages
        stay; an auto-deployed stage serves the new routes at once)."""
        imported = read_definition(params["Body"], params.get("Basepath"))
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            doc["Routes"], doc["Integrations"], doc["Authorizers"] = {}, {}, {}
            doc["Api"].pop("CorsConfiguration", None)
            doc["Api"].update(imported.api)
            http_parts.add_imported_routes(doc, imported.routes, imported.authorizers)
            api = doc["Api"]
        return self._view(scope, api)

    def _view(self, scope: Scope, api: Params) -> Params:
        endpoint = names.api_endpoint(api["ApiId"], scope.region, self.port)
        if api.get("ProtocolType") == "WEBSOCKET":
            endpoint = "ws" + endpoint.removeprefix("http")
        return {**api, "ApiEndpoint": endpoint}
