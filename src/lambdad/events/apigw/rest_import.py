"""A REST API's resources from an OpenAPI 3 (or Swagger 2) definition, as
``ImportRestApi`` and ``PutRestApi`` read one (pure, over the API's document).

Every path becomes a chain of resources under the root (``/pets/{id}`` makes ``pets``
and ``{id}``; ``{proxy+}`` greedy), every operation a method (``get``… and
``x-amazon-apigateway-any-method`` as ``ANY``) with ``authorizationType`` ``NONE``, and
its ``x-amazon-apigateway-integration`` (``type: aws_proxy``, ``uri``, ``httpMethod``)
the method's integration. ``info.title`` names the API; ``x-amazon-apigateway-binary-
media-types`` are its binary media types. ``PutRestApi`` with ``mode`` ``overwrite``
(the default) replaces the resources, ``merge`` adds to them; stages and deployments
stay, serving what they were deployed with until the next deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lambdad.errors import BadRequestException
from lambdad.events.apigw import names
from lambdad.events.apigw.openapi_import import load_definition

Params = dict[str, Any]
_VERBS: Final = ("get", "put", "post", "delete", "options", "head", "patch")


def api_fields(definition: Mapping[str, Any]) -> Params:
    """The RestApi fields a definition sets (``name`` required)."""
    info = definition.get("info")
    info = info if isinstance(info, Mapping) else {}
    title = info.get("title")
    if not isinstance(title, str) or not title:
        raise BadRequestException("Invalid OpenAPI input: info.title is required")
    fields: Params = {"name": title}
    if isinstance(info.get("description"), str):
        fields["description"] = info["description"]
    if info.get("version") is not None:
        fields["version"] = str(info["version"])
    binary = definition.get("x-amazon-apigateway-binary-media-types")
    if isinstance(binary, list):
        fields["binaryMediaTypes"] = [str(t) for t in binary]
    return fields


def read(body: bytes) -> Mapping[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestException("Invalid OpenAPI input: not UTF-8") from None
    return load_definition(text)


def apply(doc: Params, definition: Mapping[str, Any], *, merge: bool) -> None:
    """Build the definition's resources and methods into the API's document."""
    root_id = doc["Api"]["rootResourceId"]
    if not merge:
        doc["Resources"] = {root_id: {"id": root_id, "path": "/", "resourceMethods": {}}}
    paths = definition.get("paths")
    if not isinstance(paths, Mapping):
        raise BadRequestException("Invalid OpenAPI input: paths is required")
    for path, operations in paths.items():
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or not isinstance(operations, Mapping)
        ):
            raise BadRequestException(f"Invalid OpenAPI input: invalid path {path!r}")
        resource = _resource_for(doc, path)
        for key, operation in operations.items():
            verb = "ANY" if key == "x-amazon-apigateway-any-method" else key.upper()
            if (key not in _VERBS and verb != "ANY") or not isinstance(operation, Mapping):
                continue
            method: Params = {
                "apiKeyRequired": False,
                "authorizationType": "NONE",
                "httpMethod": verb,
            }
            integration = operation.get("x-amazon-apigateway-integration")
            if isinstance(integration, Mapping):
                method["methodIntegration"] = _integration(integration, resource["id"])
            resource["resourceMethods"][verb] = method


def _resource_for(doc: Params, path: str) -> Params:
    resources = doc["Resources"]
    by_path: dict[str, Params] = {r["path"]: r for r in resources.values()}
    current = by_path["/"]
    for part in [p for p in path.split("/") if p]:
        child_path = f"/{part}" if current["path"] == "/" else f"{current['path']}/{part}"
        child = by_path.get(child_path)
        if child is None:
            if current.get("pathPart", "").endswith("+}"):
                raise BadRequestException(
                    f"Invalid OpenAPI input: {path} is below a greedy path variable"
                )
            resource_id = names.new_id()
            child = {
                "id": resource_id,
                "parentId": current["id"],
                "path": child_path,
                "pathPart": part,
                "resourceMethods": {},
            }
            resources[resource_id] = by_path[child_path] = child
        current = child
    return current


def _integration(found: Mapping[str, Any], resource_id: str) -> Params:
    if str(found.get("type", "")).upper() != "AWS_PROXY":
        raise BadRequestException("lambdad serves AWS_PROXY (Lambda) integrations only")
    if not isinstance(found.get("uri"), str):
        raise BadRequestException("Invalid OpenAPI input: an integration has no uri")
    return {
        "cacheKeyParameters": [],
        "cacheNamespace": resource_id,
        "httpMethod": str(found.get("httpMethod", "POST")).upper(),
        "passthroughBehavior": "WHEN_NO_MATCH",
        "timeoutInMillis": int(found.get("timeoutInMillis", 29000)),
        "type": "AWS_PROXY",
        "uri": found["uri"],
    }
