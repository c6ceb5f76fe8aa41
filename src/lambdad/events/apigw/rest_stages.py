"""A REST API's deployments and stages (``apigateway``).

``CreateDeployment`` takes a snapshot of the resource tree (every method must have an
integration, as API Gateway checks) and, given a ``stageName``, points that stage at
it (creating the stage with the ``variables`` given). A stage serves its deployment
at ``/<stage>/…``; ``UpdateStage`` patches its ``deploymentId``, ``description`` and
``/variables/<name>``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.apigw import names, paging
from lambdad.events.apigw.api_store import REST, ApiStore
from lambdad.model.scope import Scope

Params = dict[str, Any]
DEPLOYMENT_ID_LENGTH: Final = 6


class RestStages:
    def __init__(self, store: ApiStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateDeployment": self.create_deployment,
            "GetDeployments": self.get_deployments,
            "CreateStage": self.create_stage,
            "GetStage": self.get_stage,
            "GetStages": self.get_stages,
            "UpdateStage": self.update_stage,
            "DeleteStage": self.delete_stage,
        }

    def create_deployment(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            resources = doc["Resources"]
            if not any(r.get("resourceMethods") for r in resources.values()):
                raise BadRequestException("The REST API doesn't contain any methods")
            for found in resources.values():
                for method in (found.get("resourceMethods") or {}).values():
                    if "methodIntegration" not in method:
                        raise BadRequestException("No integration defined for method")
            deployment: Params = {
                "createdDate": self.clock.now().timestamp(),
                "id": names.new_id(DEPLOYMENT_ID_LENGTH),
            }
            if "description" in params:
                deployment["description"] = params["description"]
            doc["Deployments"][deployment["id"]] = {
                **deployment,
                "Snapshot": copy.deepcopy(resources),
            }
            stage_name = params.get("stageName")
            if stage_name:
                stage = doc["Stages"].get(stage_name)
                if stage is None:
                    stage = _new_stage(doc, {"stageName": stage_name}, deployment, self.clock)
                stage["deploymentId"] = deployment["id"]
                if "variables" in params:
                    stage["variables"] = dict(params["variables"])
            return deployment

    def get_deployments(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(REST, scope, params["restApiId"])
        items = [
            {k: v for k, v in d.items() if k != "Snapshot"} for d in doc["Deployments"].values()
        ]
        listing = f"deployments/{params['restApiId']}"
        return paging.v1_page(items, params, listing=listing, key="id")

    def create_stage(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            deployment = doc["Deployments"].get(params["deploymentId"])
            if deployment is None:
                raise NotFoundException("Invalid Deployment identifier specified")
            if params["stageName"] in doc["Stages"]:
                raise ConflictException("Stage already exists")
            return dict(_new_stage(doc, params, deployment, self.clock))

    def get_stage(self, scope: Scope, params: Params) -> Params:
        return dict(_stage(self.store.get(REST, scope, params["restApiId"]), params["stageName"]))

    def get_stages(self, scope: Scope, params: Params) -> Params:
        return {"item": list(self.store.get(REST, scope, params["restApiId"])["Stages"].values())}

    def update_stage(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            stage = _stage(doc, params["stageName"])
            for patch in params.get("patchOperations") or ():
                _apply(doc, stage, patch)
            stage["lastUpdatedDate"] = self.clock.now().timestamp()
            return dict(stage)

    def delete_stage(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            _stage(doc, params["stageName"])
            del doc["Stages"][params["stageName"]]
        return {}


def _new_stage(doc: Params, params: Params, deployment: Params, clock: Clock) -> Params:
    now = clock.now().timestamp()
    stage: Params = {
        "cacheClusterEnabled": False,
        "cacheClusterStatus": "NOT_AVAILABLE",
        "createdDate": now,
        "deploymentId": deployment["id"],
        "lastUpdatedDate": now,
        "methodSettings": {},
        "stageName": params["stageName"],
        "tracingEnabled": False,
    }
    for key in ("description", "variables", "tags"):
        if key in params:
            stage[key] = params[key]
    doc["Stages"][stage["stageName"]] = stage
    return stage


def _apply(doc: Params, stage: Params, patch: Params) -> None:
    op, path, value = patch.get("op"), patch.get("path", ""), patch.get("value")
    if path.startswith("/variables/"):
        name = path.removeprefix("/variables/")
        variables = stage.setdefault("variables", {})
        if op == "remove":
            variables.pop(name, None)
        elif op in ("replace", "add") and value is not None:
            variables[name] = value
        else:
            raise BadRequestException(f"Invalid patch operation specified: {op} {path}")
    elif path == "/deploymentId" and op == "replace" and value in doc["Deployments"]:
        stage["deploymentId"] = value
    elif path == "/description" and op == "replace":
        stage["description"] = value
    else:
        raise BadRequestException(f"Invalid patch path {path} specified for op {op}")


def _stage(doc: Params, name: str) -> Params:
    stage: Params | None = doc["Stages"].get(name)
    if stage is None:
        raise NotFoundException("Invalid Stage identifier specified")
    return stage
