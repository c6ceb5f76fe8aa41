"""REST APIs (``apigateway``): the APIs themselves and their resource trees.

Operations take the caller's ``Scope`` and parameters by botocore's member names
(``restApiId``, ``pathPart``…; this model's wire names are the same but for a few
lists) and answer the output members. A new API has its root resource ``/``; a
resource's ``path`` is its parent's joined with its ``pathPart``, which is a literal,
a ``{name}`` or a greedy ``{name+}`` (that has no children, and one variable per
parent, as API Gateway requires). Deleting a resource deletes its subtree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import BadRequestException, ConflictException
from lambdad.events.apigw import (
    names,
    paging,
    rest_authorizers,
    rest_import,
    rest_methods,
    rest_stages,
)
from lambdad.events.apigw.api_store import REST, ApiStore
from lambdad.events.apigw.rest_methods import resource
from lambdad.model.scope import Scope

Params = dict[str, Any]
_PATH_PART: Final = re.compile(r"[A-Za-z0-9._:@~!$&'()*,;=-]+|\{[A-Za-z0-9._-]+\+?\}")
_API_FIELDS: Final = (
    "description",
    "version",
    "binaryMediaTypes",
    "minimumCompressionSize",
    "apiKeySource",
    "endpointConfiguration",
    "policy",
    "tags",
    "disableExecuteApiEndpoint",
)


class RestApis:
    def __init__(self, store: ApiStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateRestApi": self.create_rest_api,
            "GetRestApi": self.get_rest_api,
            "GetRestApis": self.get_rest_apis,
            "DeleteRestApi": self.delete_rest_api,
            "ImportRestApi": self.import_rest_api,
            "PutRestApi": self.put_rest_api,
            "GetResources": self.get_resources,
            "GetResource": self.get_resource,
            "CreateResource": self.create_resource,
            "DeleteResource": self.delete_resource,
            **rest_methods.RestMethods(self.store).operations(),
            **rest_stages.RestStages(self.store, self.clock).operations(),
            **rest_authorizers.RestAuthorizers(self.store).operations(),
        }

    def create_rest_api(self, scope: Scope, params: Params) -> Params:
        api_id, root_id = names.new_id(), names.new_id()
        api: Params = {
            "apiKeySource": "HEADER",
            "createdDate": self.clock.now().timestamp(),
            "disableExecuteApiEndpoint": False,
            "endpointConfiguration": {"types": ["EDGE"]},
            "id": api_id,
            "name": params["name"],
            "rootResourceId": root_id,
        }
        api.update({k: params[k] for k in _API_FIELDS if k in params})
        root = {"id": root_id, "path": "/", "resourceMethods": {}}
        doc = {
            "ApiId": api_id,
            "Api": api,
            "Resources": {root_id: root},
            "Deployments": {},
            "Stages": {},
        }
        self.store.create(REST, scope, doc)
        return dict(api)

    def get_rest_api(self, scope: Scope, params: Params) -> Params:
        return dict(self.store.get(REST, scope, params["restApiId"])["Api"])

    def get_rest_apis(self, scope: Scope, params: Params) -> Params:
        docs = self.store.list(REST, scope)
        apis = sorted((doc["Api"] for doc in docs), key=lambda a: (a["createdDate"], a["id"]))
        return paging.v1_page(apis, params, listing="restapis", key="id")

    def delete_rest_api(self, scope: Scope, params: Params) -> Params:
        self.store.delete(REST, scope, params["restApiId"])
        return {}

    def import_rest_api(self, scope: Scope, params: Params) -> Params:
        definition = rest_import.read(params["body"])
        api = self.create_rest_api(scope, rest_import.api_fields(definition))
        with self.store.edit(REST, scope, api["id"]) as doc:
            rest_import.apply(doc, definition, merge=False)
        return api

    def put_rest_api(self, scope: Scope, params: Params) -> Params:
        definition = rest_import.read(params["body"])
        mode = params.get("mode", "overwrite")
        if mode not in ("overwrite", "merge"):
            raise BadRequestException(f"Invalid mode {mode}: overwrite or merge")
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            if mode == "overwrite":
                doc["Api"].update(rest_import.api_fields(definition))
            rest_import.apply(doc, definition, merge=mode == "merge")
            return dict(doc["Api"])

    def get_resources(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(REST, scope, params["restApiId"])
        items = [_view(r) for r in doc["Resources"].values()]
        listing = f"resources/{params['restApiId']}"
        return paging.v1_page(items, params, listing=listing, key="id")

    def get_resource(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(REST, scope, params["restApiId"])
        return _view(resource(doc, params["resourceId"]))

    def create_resource(self, scope: Scope, params: Params) -> Params:
        part = params["pathPart"]
        if not _PATH_PART.fullmatch(part):
            raise BadRequestException(
                "Resource's path part only allow a-zA-Z0-9._- and curly braces at the "
                "beginning and the end and an optional plus sign before the closing brace."
            )
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            parent = resource(doc, params["parentId"])
            if parent.get("pathPart", "").endswith("+}"):
                raise BadRequestException(
                    "Cannot create a child of a resource with a greedy path variable: "
                    f"{parent['pathPart']}"
                )
            _check_siblings(doc, parent["id"], part)
            resource_id = names.new_id()
            path = f"/{part}" if parent["path"] == "/" else f"{parent['path']}/{part}"
            doc["Resources"][resource_id] = {
                "id": resource_id,
                "parentId": parent["id"],
                "path": path,
                "pathPart": part,
                "resourceMethods": {},
            }
            return _view(doc["Resources"][resource_id])

    def delete_resource(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            gone = resource(doc, params["resourceId"])
            if "parentId" not in gone:
                raise BadRequestException("Cannot delete the root resource of an API")
            doomed = {gone["id"]}
            while True:
                more = {rid for rid, r in doc["Resources"].items() if r.get("parentId") in doomed}
                if more <= doomed:
                    break
                doomed |= more
            for rid in doomed:
                del doc["Resources"][rid]
        return {}


def _check_siblings(doc: Params, parent_id: str, part: str) -> None:
    for sibling in doc["Resources"].values():
        if sibling.get("parentId") != parent_id:
            continue
        if sibling["pathPart"] == part:
            raise ConflictException(
                f"Another resource with the same parent already has this name: {part}"
            )
        if part.startswith("{") and sibling["pathPart"].startswith("{"):
            raise BadRequestException(
                f"A sibling ({sibling['pathPart']}) of this resource already has a variable "
                "path part -- only one is allowed"
            )


def _view(found: Params) -> Params:
    out = {k: v for k, v in found.items() if k != "resourceMethods"}
    if found.get("resourceMethods"):
        out["resourceMethods"] = found["resourceMethods"]
    return out
