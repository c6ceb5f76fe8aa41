"""API Gateway REST APIs (``AWS::ApiGateway::RestApi`` with or without a ``Body``,
``Resource``, ``Method``, ``Deployment``, ``Stage``) through lambdad's ``apigateway``
API. A ``Body`` is applied as resources, methods and Lambda proxy integrations (lambdad
has no import); a changed ``Body`` rebuilds the API's resources in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy.api_definitions import routes, segments
from lambdad.deploy.handlers import Applied, Env, error_code, pick
from lambdad.deploy.records import ResourceRecord


def _resources(client: Any, api_id: str) -> list[dict[str, Any]]:
    """All the API's resources (GetResources answers 25 a page)."""
    pages = client.get_paginator("get_resources").paginate(restApiId=api_id)
    return [item for page in pages for item in page["items"]]


def _missing(call: Any) -> None:
    try:
        call()
    except Exception as exc:
        if error_code(exc) not in ("NotFoundException", "ResourceNotFoundException"):
            raise


class RestApiHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        client = env.client("apigateway")
        body = props.get("Body") or {}
        name = props.get("Name") or (body.get("info") or {}).get("title") or logical_id
        api = client.create_rest_api(name=str(name), **pick(props, "Description"))
        api_id = api["id"]
        root = next(r["id"] for r in _resources(client, api_id) if r["path"] == "/")
        try:
            _apply_body(client, api_id, root, body)
        except Exception:
            _missing(lambda: client.delete_rest_api(restApiId=api_id))
            raise
        return Applied(api_id, {"Ref": api_id, "RootResourceId": root, "RestApiId": api_id})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        client = env.client("apigateway")
        api_id = record.physical_id
        if props.get("Body") != record.properties.get("Body"):
            items = _resources(client, api_id)
            for item in sorted(items, key=lambda r: -len(r["path"])):
                if item.get("parentId") and item["path"].count("/") == 1:
                    _missing(
                        lambda i=item: client.delete_resource(restApiId=api_id, resourceId=i["id"])
                    )
            root = record.attributes["RootResourceId"]
            for method in next(r for r in items if r["path"] == "/").get("resourceMethods") or {}:
                _missing(
                    lambda m=method: client.delete_method(
                        restApiId=api_id, resourceId=root, httpMethod=m
                    )
                )
            _apply_body(client, api_id, root, props.get("Body") or {})
        return Applied(api_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        _missing(lambda: env.client("apigateway").delete_rest_api(restApiId=record.physical_id))


def _apply_body(client: Any, api_id: str, root: str, body: Mapping[str, Any]) -> None:
    ids = {"": root}
    for route in routes(body):
        parent, path = root, ""
        for part in segments(route.path):
            path = f"{path}/{part}"
            if path not in ids:
                made = client.create_resource(restApiId=api_id, parentId=parent, pathPart=part)
                ids[path] = made["id"]
            parent = ids[path]
        _put_method(client, api_id, parent, route.method, "NONE", route.uri)


def _put_method(
    client: Any, api_id: str, resource: str, method: str, auth: str, uri: str | None
) -> None:
    client.put_method(
        restApiId=api_id, resourceId=resource, httpMethod=method, authorizationType=auth
    )
    if uri:
        client.put_integration(
            restApiId=api_id,
            resourceId=resource,
            httpMethod=method,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=uri,
        )


class ResourceHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        made = env.client("apigateway").create_resource(
            restApiId=props["RestApiId"], parentId=props["ParentId"], pathPart=props["PathPart"]
        )
        return Applied(made["id"], {"Ref": made["id"], "ResourceId": made["id"]})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        p = record.properties
        _missing(
            lambda: env.client("apigateway").delete_resource(
                restApiId=p["RestApiId"], resourceId=record.physical_id
            )
        )


class MethodHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        integration = props.get("Integration") or {}
        if integration and str(integration.get("Type", "")).upper() != "AWS_PROXY":
            raise ValueError(
                f"lambdad serves AWS_PROXY integrations only, not {integration.get('Type')}"
            )
        _put_method(
            env.client("apigateway"),
            props["RestApiId"],
            props["ResourceId"],
            str(props["HttpMethod"]).upper(),
            str(props.get("AuthorizationType", "NONE")),
            integration.get("Uri"),
        )
        ref = f"{props['RestApiId']}/{props['ResourceId']}/{str(props['HttpMethod']).upper()}"
        return Applied(ref, {"Ref": ref})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self.delete(env, record)
        return self.create(env, record.logical_id, props, None)

    def delete(self, env: Env, record: ResourceRecord) -> None:
        api, resource, method = record.physical_id.split("/")
        _missing(
            lambda: env.client("apigateway").delete_method(
                restApiId=api, resourceId=resource, httpMethod=method
            )
        )


class DeploymentHandler:
    """A deployment goes with its API (lambdad's apigateway has no DeleteDeployment)."""

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        args = {
            "restApiId": props["RestApiId"],
            **{k[0].lower() + k[1:]: v for k, v in pick(props, "StageName", "Description").items()},
        }
        made = env.client("apigateway").create_deployment(**args)
        return Applied(made["id"], {"Ref": made["id"], "DeploymentId": made["id"]})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        return None


class StageHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        env.client("apigateway").create_stage(
            restApiId=props["RestApiId"],
            stageName=props["StageName"],
            deploymentId=props["DeploymentId"],
            **({"description": props["Description"]} if "Description" in props else {}),
            **({"variables": props["Variables"]} if props.get("Variables") else {}),
        )
        return Applied(str(props["StageName"]), {"Ref": props["StageName"]})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        ops = [{"op": "replace", "path": "/deploymentId", "value": props["DeploymentId"]}]
        ops += [
            {"op": "replace", "path": f"/variables/{k}", "value": str(v)}
            for k, v in (props.get("Variables") or {}).items()
        ]
        env.client("apigateway").update_stage(
            restApiId=props["RestApiId"], stageName=record.physical_id, patchOperations=ops
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        p = record.properties
        _missing(
            lambda: env.client("apigateway").delete_stage(
                restApiId=p["RestApiId"], stageName=record.physical_id
            )
        )
