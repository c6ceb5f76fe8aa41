"""An OpenAPI definition's authorizers and each operation's use of them, as
``ImportApi`` reads them (pure).

A security scheme (``components.securitySchemes``, Swagger's ``securityDefinitions``)
with ``x-amazon-apigateway-authorizer`` is an authorizer of the API: ``type: jwt``
with ``jwtConfiguration`` (``issuer``, ``audience``) and ``identitySource``, or
``type: request`` (a Lambda authorizer) with ``authorizerUri``,
``authorizerPayloadFormatVersion``, ``enableSimpleResponses``,
``authorizerResultTtlInSeconds`` and ``identitySource`` (comma separated). A scheme
with ``x-amazon-apigateway-authtype: awsSigv4`` stands for ``AWS_IAM``. An
operation's ``security`` (else the definition's) names the scheme it uses, with the
scopes a JWT must hold; ``security: []`` uses none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lambdad.errors import BadRequestException

Params = dict[str, Any]
IAM: Final = "AWS_IAM"


@dataclass(frozen=True, slots=True)
class RouteAuth:
    """A route's authorization: ``AWS_IAM``, or the name of a scheme (an authorizer)
    with its scopes."""

    scheme: str
    scopes: tuple[str, ...] = field(default_factory=tuple)


def authorizers(doc: Mapping[str, Any]) -> dict[str, Params]:
    """CreateAuthorizer's parameters for each scheme that is an authorizer, by name."""
    found: dict[str, Params] = {}
    for name, scheme in _schemes(doc).items():
        settings = scheme.get("x-amazon-apigateway-authorizer")
        if not isinstance(settings, Mapping):
            continue
        kind = str(settings.get("type", "")).lower()
        sources = settings.get("identitySource")
        source_list = [s.strip() for s in sources.split(",")] if isinstance(sources, str) else []
        params: Params = {"Name": str(name), "IdentitySource": [s for s in source_list if s]}
        if kind == "jwt":
            jwt = settings.get("jwtConfiguration")
            jwt = jwt if isinstance(jwt, Mapping) else {}
            audience = jwt.get("audience") or []
            params["AuthorizerType"] = "JWT"
            params["JwtConfiguration"] = {
                "Issuer": str(jwt.get("issuer", "")),
                "Audience": [str(a) for a in (audience if isinstance(audience, list) else [])],
            }
        elif kind == "request":
            params["AuthorizerType"] = "REQUEST"
            params["AuthorizerUri"] = str(settings.get("authorizerUri", ""))
            params["AuthorizerPayloadFormatVersion"] = str(
                settings.get("authorizerPayloadFormatVersion", "")
            )
            params["EnableSimpleResponses"] = bool(settings.get("enableSimpleResponses"))
            ttl = settings.get("authorizerResultTtlInSeconds", 0)
            params["AuthorizerResultTtlInSeconds"] = ttl if isinstance(ttl, int) else 0
        else:
            raise BadRequestException(
                f"Invalid OpenAPI input: authorizer {name!r} has type {kind!r} "
                "(lambdad serves jwt and request authorizers)"
            )
        found[str(name)] = params
    return found


def route_auth(
    doc: Mapping[str, Any], operation: Mapping[str, Any], known: Mapping[str, Params]
) -> RouteAuth | None:
    """What an operation uses: a known authorizer, ``AWS_IAM``, or None (no
    authorization, or only schemes that API Gateway does not enforce)."""
    security = operation.get("security", doc.get("security"))
    if not isinstance(security, list):
        return None
    schemes = _schemes(doc)
    for requirement in security:
        if not isinstance(requirement, Mapping):
            continue
        for name, scopes in requirement.items():
            if name in known:
                listed = scopes if isinstance(scopes, list) else []
                return RouteAuth(str(name), tuple(str(s) for s in listed))
            scheme = schemes.get(name) or {}
            if str(scheme.get("x-amazon-apigateway-authtype", "")).lower() == "awssigv4":
                return RouteAuth(IAM)
    return None


def _schemes(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    components = doc.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
    if not isinstance(schemes, Mapping):
        schemes = doc.get("securityDefinitions")
    if not isinstance(schemes, Mapping):
        return {}
    return {str(k): v for k, v in schemes.items() if isinstance(v, Mapping)}
