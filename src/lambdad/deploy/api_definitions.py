"""An API's ``Body`` (the OpenAPI document SAM writes for ``Api`` and ``HttpApi``
events) read into the routes lambdad's API Gateway serves: path, method, Lambda
integration. Pure. Only ``aws_proxy`` integrations exist in lambdad; any other is
refused with its path and method, never dropped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.deploy.errors import ValidationError

_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_ANY = "x-amazon-apigateway-any-method"


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    method: str  # upper case; "ANY"
    uri: str
    payload_format: str | None = None


def routes(body: Mapping[str, Any]) -> list[Route]:
    paths = body.get("paths") or {}
    if not isinstance(paths, dict):
        raise ValidationError("API Body: paths must be an object")
    out = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for verb, op in item.items():
            if verb not in _VERBS and verb != _ANY:
                continue
            integration = (op or {}).get("x-amazon-apigateway-integration")
            method = "ANY" if verb == _ANY else verb.upper()
            if not isinstance(integration, dict):
                raise ValidationError(f"API Body: {method} {path} has no integration")
            if str(integration.get("type", "")).lower() != "aws_proxy":
                raise ValidationError(
                    f"API Body: {method} {path}: lambdad serves aws_proxy (Lambda) "
                    f"integrations only, not {integration.get('type')}"
                )
            fmt = integration.get("payloadFormatVersion")
            out.append(Route(path, method, str(integration.get("uri")), str(fmt) if fmt else None))
    return out


def segments(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]
