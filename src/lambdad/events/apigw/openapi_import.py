"""An HTTP API from an OpenAPI 3 (or Swagger 2) definition, as ``ImportApi`` and
``ReimportApi`` read one (pure).

The definition (JSON or YAML) gives the API's name (``info.title``, required),
description and version, its CORS settings (``x-amazon-apigateway-cors``), and a
route per path and operation: ``get``, ``post``… and ``x-amazon-apigateway-any-method``
(``ANY``); the path ``$default`` makes the ``$default`` route. An operation's
``x-amazon-apigateway-integration`` (``type: aws_proxy``, ``uri``, ``payloadFormatVersion``,
default ``1.0``, ``timeoutInMillis``) becomes the route's integration; an operation
without one becomes a route without a target. ``basepath`` ``prepend`` puts the
definition's ``servers`` base path before every route (``ignore``, the default, drops it).
Authorizers and each route's use of them: ``openapi_security``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from lambdad.errors import BadRequestException
from lambdad.events.apigw.openapi_security import RouteAuth, authorizers, route_auth
from lambdad.events.apigw.route_match import ANY, DEFAULT_ROUTE, parse_route_key

Params = dict[str, Any]
_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch")
_ANY_METHOD: Final = "x-amazon-apigateway-any-method"
_INTEGRATION: Final = "x-amazon-apigateway-integration"
_CORS_KEYS: Final = {
    "allowcredentials": "AllowCredentials", "allowheaders": "AllowHeaders",
    "allowmethods": "AllowMethods", "alloworigins": "AllowOrigins",
    "exposeheaders": "ExposeHeaders", "maxage": "MaxAge",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportedRoute:
    route_key: str
    # CreateIntegration's parameters (member names), or None: a route without a target.
    integration: Params | None
    auth: RouteAuth | None = None


@dataclass(frozen=True, slots=True)
class ImportedApi:
    api: Params
    routes: tuple[ImportedRoute, ...] = field(default_factory=tuple)
    # CreateAuthorizer's parameters by the name of their security scheme.
    authorizers: Mapping[str, Params] = field(default_factory=dict)


def read_definition(body: str, basepath: str | None = None) -> ImportedApi:
    doc = load_definition(body)
    found = doc.get("info")
    info: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    title = info.get("title")
    if not isinstance(title, str) or not title:
        raise BadRequestException("Invalid OpenAPI input: info.title is required")
    api: Params = {"Name": title}
    if isinstance(info.get("description"), str):
        api["Description"] = info["description"]
    if info.get("version") is not None:
        api["Version"] = str(info["version"])
    cors = doc.get("x-amazon-apigateway-cors")
    if isinstance(cors, Mapping):
        api["CorsConfiguration"] = {
            _CORS_KEYS[k.lower()]: v for k, v in cors.items() if k.lower() in _CORS_KEYS
        }
    prefix = _base_path(doc) if basepath == "prepend" else ""
    paths = doc.get("paths")
    if not isinstance(paths, Mapping):
        raise BadRequestException("Invalid OpenAPI input: paths is required")
    known = authorizers(doc)
    routes = []
    for path, operations in paths.items():
        if not isinstance(operations, Mapping):
            continue
        for key, operation in operations.items():
            method = ANY if key == _ANY_METHOD else key.upper() if key in _METHODS else None
            if method is None or not isinstance(operation, Mapping):
                continue
            route_key = DEFAULT_ROUTE if path == DEFAULT_ROUTE else f"{method} {prefix}{path}"
            if parse_route_key(route_key) is None:
                raise BadRequestException(f"Invalid OpenAPI input: invalid path {path!r}")
            integration = _integration(operation.get(_INTEGRATION))
            routes.append(ImportedRoute(route_key, integration, route_auth(doc, operation, known)))
    return ImportedApi(api, tuple(routes), known)


def load_definition(body: str) -> Mapping[str, Any]:
    """A definition's document, from JSON or YAML; ``BadRequestException`` if it is none."""
    try:
        doc = json.loads(body) if body.lstrip().startswith("{") else yaml.safe_load(body)
    except (ValueError, yaml.YAMLError, RecursionError):
        raise BadRequestException("Invalid OpenAPI input: not JSON or YAML") from None
    if not isinstance(doc, Mapping) or not ("openapi" in doc or "swagger" in doc):
        raise BadRequestException("Invalid OpenAPI input: not an OpenAPI definition")
    return doc


def _base_path(doc: Mapping[str, Any]) -> str:
    servers = doc.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], Mapping):
        return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    return str(doc.get("basePath") or "").rstrip("/")


def _integration(found: Any) -> Params | None:
    if not isinstance(found, Mapping):
        return None
    if str(found.get("type", "")).upper() != "AWS_PROXY":
        raise BadRequestException("lambdad serves AWS_PROXY (Lambda) integrations only")
    if not isinstance(found.get("uri"), str):
        raise BadRequestException("Invalid OpenAPI input: an integration has no uri")
    integration: Params = {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": found["uri"],
        "PayloadFormatVersion": str(found.get("payloadFormatVersion", "1.0")),
    }
    if isinstance(found.get("timeoutInMillis"), int):
        integration["TimeoutInMillis"] = found["timeoutInMillis"]
    return integration
