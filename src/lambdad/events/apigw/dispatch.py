"""From a stored API and a request to what to invoke (pure).

``http_target`` reads an HTTP API: the stage (a first path segment naming a stage
other than ``$default``, else the ``$default`` stage at the root), the routes that
stage serves, the best route (``route_match``), its integration. ``rest_target``
reads a REST API: the stage (always the first segment), its deployment's resources,
the best resource method (``ANY`` included), its ``AWS_PROXY`` integration. Either
answers a ``Target`` or None (nothing matches: HTTP APIs answer 404, REST APIs 403
``Missing Authentication Token``).

``function_of`` finds the function an integration URI names (a function ARN, or the
``arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations`` form),
with ``${stageVariables.name}`` replaced by the stage's values, as AWS does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lambdad.errors import AwsError
from lambdad.events.apigw import http_stages, names
from lambdad.events.apigw.route_match import DEFAULT_ROUTE, RouteKey, match, parse_route_key
from lambdad.model.arn import FunctionRef, cached_function_ref

Doc = Mapping[str, Any]
_INVOCATION: Final = re.compile(
    r"arn:aws[a-zA-Z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations"
)
# A stage's document part that routes read (None: nothing served), and its parsed routes.
Prepared = tuple[Doc | None, list[tuple[str, "RouteKey"]]]
_STAGE_VARIABLE: Final = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class Target:
    """The route or method a request reached, and the integration behind it.

    ``path`` is the request path after the stage (what routes match); ``arn_method``
    and ``arn_path`` are what the invocation's source ARN names."""

    stage: str
    path: str
    route_key: str
    integration_uri: str
    payload_version: str
    arn_method: str
    arn_path: str
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    resource_id: str = ""
    resource_path: str = ""
    deployment_id: str = ""
    # "CUSTOM" (a Lambda authorizer) or "JWT" with the id of the API's authorizer to
    # ask first, "AWS_IAM", or "NONE"; a JWT route's scopes (one must be granted).
    authorization_type: str = "NONE"
    authorizer_id: str = ""
    authorization_scopes: tuple[str, ...] = ()


def split_stage(raw_path: str) -> tuple[str, str]:
    """(first segment, the path after it: ``/`` at least)."""
    first, _, rest = raw_path.lstrip("/").partition("/")
    return first, "/" + rest


def http_target(
    doc: Doc, method: str, raw_path: str, cache: dict[str, Any] | None = None
) -> Target | None:
    """``cache``: where a stage's parsed routes are kept between requests to the same
    document (``api_store.Found.routes``)."""
    stages = doc["Stages"]
    first, rest = split_stage(raw_path)
    if first in stages and first != names.DEFAULT_STAGE:
        stage_name, path = first, rest
    elif names.DEFAULT_STAGE in stages:
        stage_name, path = names.DEFAULT_STAGE, raw_path
    else:
        return None
    stage = stages[stage_name]

    def prepare() -> Prepared:
        parts = http_stages.served_parts(dict(doc), stage)
        if parts is None:
            return None, []
        return parts, _parsed((rid, r["RouteKey"]) for rid, r in parts["Routes"].items())

    parts, routes = _prepared(cache, stage_name, prepare)
    if parts is None:
        return None
    found = match(routes, method, path)
    if found is None:
        return None
    route = parts["Routes"][found.route_id]
    target = route.get("Target") or ""
    integration = parts["Integrations"].get(target.removeprefix("integrations/"))
    if integration is None:
        return None
    default = found.route_key == DEFAULT_ROUTE
    return Target(
        stage=stage_name,
        path=path,
        route_key=found.route_key,
        integration_uri=integration["IntegrationUri"],
        payload_version=integration.get("PayloadFormatVersion", "2.0"),
        arn_method="" if default else method,
        arn_path=DEFAULT_ROUTE if default else found.route_key.split(" ", 1)[1],
        path_parameters=found.path_parameters,
        stage_variables=stage.get("StageVariables") or {},
        authorization_type=route.get("AuthorizationType", "NONE"),
        authorizer_id=route.get("AuthorizerId", ""),
        authorization_scopes=tuple(route.get("AuthorizationScopes") or ()),
    )


def rest_target(
    doc: Doc, method: str, raw_path: str, cache: dict[str, Any] | None = None
) -> Target | None:
    """``cache``: as ``http_target``'s."""
    stage_name, path = split_stage(raw_path)
    stage = doc["Stages"].get(stage_name)
    if stage is None:
        return None

    def prepare() -> Prepared:
        deployment = doc["Deployments"].get(stage.get("deploymentId") or "")
        if deployment is None:
            return None, []
        resources = deployment["Snapshot"]
        return resources, _parsed(
            (f"{rid} {verb}", f"{verb} {resource['path']}")
            for rid, resource in resources.items()
            for verb in (resource.get("resourceMethods") or {})
        )

    resources, routes = _prepared(cache, stage_name, prepare)
    if resources is None:
        return None
    found = match(routes, method, path)
    if found is None:
        return None
    resource_id, verb = found.route_id.split(" ", 1)
    resource = resources[resource_id]
    chosen = resource["resourceMethods"][verb]
    integration = chosen.get("methodIntegration") or {}
    return Target(
        stage=stage_name,
        path=path,
        route_key=found.route_key,
        integration_uri=integration.get("uri", "")
        if integration.get("type") == "AWS_PROXY"
        else "",
        payload_version="1.0",
        arn_method=method,
        arn_path=resource["path"],
        path_parameters=found.path_parameters,
        stage_variables=stage.get("variables") or {},
        resource_id=resource_id,
        resource_path=resource["path"],
        deployment_id=stage["deploymentId"],
        authorization_type=chosen.get("authorizationType", "NONE"),
        authorizer_id=chosen.get("authorizerId", ""),
    )


def function_of(uri: str, stage_variables: Mapping[str, str]) -> FunctionRef | None:
    """The function an integration URI names, or None when it names none."""
    invocation = _INVOCATION.fullmatch(uri)
    arn = invocation.group(1) if invocation is not None else uri
    arn = _STAGE_VARIABLE.sub(lambda m: stage_variables.get(m.group(1), ""), arn)
    try:
        return cached_function_ref(arn)
    except AwsError:
        return None


def _prepared(
    cache: dict[str, Any] | None, stage_name: str, prepare: Callable[[], Prepared]
) -> Prepared:
    """A stage's (what it serves, its parsed routes): from ``cache`` when kept there."""
    if cache is None:
        return prepare()
    prepared: Prepared | None = cache.get(stage_name)
    if prepared is None:
        prepared = cache[stage_name] = prepare()
    return prepared


def _parsed(keys: Any) -> list[tuple[str, RouteKey]]:
    out = []
    for route_id, key in keys:
        parsed = parse_route_key(key)
        if parsed is not None:
            out.append((route_id, parsed))
    return out
