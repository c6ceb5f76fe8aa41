"""An HTTP API's stages and deployments (``apigatewayv2``).

A stage with ``AutoDeploy`` serves the API's routes as they are now; any other stage
serves the deployment it names, a snapshot of the routes and integrations taken by
``CreateDeployment`` (a stage naming none serves nothing: 404). ``$default`` is
served at the API's root, any other stage under ``/<stage>/``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.apigw import names, paging
from lambdad.events.apigw.api_store import HTTP, ApiStore
from lambdad.model.scope import Scope

Params = dict[str, Any]
DEPLOYMENT_ID_LENGTH: Final = 6
_STAGE_FIELDS: Final = (
    "AutoDeploy",
    "DeploymentId",
    "Description",
    "StageVariables",
    "DefaultRouteSettings",
    "RouteSettings",
)


def new_stage(doc: Params, params: Params, clock: Clock, *, managed: bool = False) -> Params:
    name = params["StageName"]
    if name in doc["Stages"]:
        raise ConflictException(f"Stage {name} already exists")
    if name != names.DEFAULT_STAGE and (not name.replace("-", "").replace("_", "").isalnum()):
        raise BadRequestException(f"Stage name only allows a-zA-Z0-9_- : {name}")
    now = clock.now().timestamp()
    stage: Params = {
        "AutoDeploy": False,
        "CreatedDate": now,
        "DefaultRouteSettings": {"DetailedMetricsEnabled": False},
        "LastUpdatedDate": now,
        "RouteSettings": {},
        "StageName": name,
        "StageVariables": {},
        "Tags": dict(params.get("Tags") or {}),
    }
    stage.update({k: params[k] for k in _STAGE_FIELDS if k in params})
    if managed:
        stage["ApiGatewayManaged"] = True
    _check_deployment(doc, stage)
    doc["Stages"][name] = stage
    return stage


def served_parts(doc: Params, stage: Params) -> Params | None:
    """What a stage serves: ``{"Routes", "Integrations"}``, or None (nothing deployed)."""
    if stage.get("AutoDeploy"):
        return doc
    deployment: Params | None = doc["Deployments"].get(stage.get("DeploymentId") or "")
    return deployment["Snapshot"] if deployment is not None else None


class HttpStages:
    def __init__(self, store: ApiStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateStage": self.create_stage,
            "GetStage": self.get_stage,
            "GetStages": self.get_stages,
            "UpdateStage": self.update_stage,
            "DeleteStage": self.delete_stage,
            "CreateDeployment": self.create_deployment,
            "GetDeployments": self.get_deployments,
        }

    def create_stage(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            return dict(new_stage(doc, params, self.clock))

    def get_stage(self, scope: Scope, params: Params) -> Params:
        return dict(_stage(self.store.get(HTTP, scope, params["ApiId"]), params["StageName"]))

    def get_stages(self, scope: Scope, params: Params) -> Params:
        stages = list(self.store.get(HTTP, scope, params["ApiId"])["Stages"].values())
        return paging.v2_page(stages, params, listing=f"stages/{params['ApiId']}", key="StageName")

    def update_stage(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            stage = _stage(doc, params["StageName"])
            changed: Params = {**stage, **{k: params[k] for k in _STAGE_FIELDS if k in params}}
            _check_deployment(doc, changed)
            stage.update(changed, LastUpdatedDate=self.clock.now().timestamp())
            return dict(stage)

    def delete_stage(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            _stage(doc, params["StageName"])
            del doc["Stages"][params["StageName"]]
        return {}

    def create_deployment(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            stage = _stage(doc, params["StageName"]) if "StageName" in params else None
            deployment_id = names.new_id(DEPLOYMENT_ID_LENGTH)
            snapshot = {
                "Routes": copy.deepcopy(doc["Routes"]),
                "Integrations": copy.deepcopy(doc["Integrations"]),
            }
            deployment: Params = {
                "AutoDeployed": False,
                "CreatedDate": self.clock.now().timestamp(),
                "DeploymentId": deployment_id,
                "DeploymentStatus": "DEPLOYED",
            }
            if "Description" in params:
                deployment["Description"] = params["Description"]
            doc["Deployments"][deployment_id] = {**deployment, "Snapshot": snapshot}
            if stage is not None:
                stage["DeploymentId"] = deployment_id
            return deployment

    def get_deployments(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        items = [
            {k: v for k, v in d.items() if k != "Snapshot"} for d in doc["Deployments"].values()
        ]
        listing = f"deployments/{params['ApiId']}"
        return paging.v2_page(items, params, listing=listing, key="DeploymentId")


def _check_deployment(doc: Params, stage: Params) -> None:
    deployment_id = stage.get("DeploymentId")
    if deployment_id is not None and deployment_id not in doc["Deployments"]:
        raise BadRequestException(f"Invalid deployment identifier specified {deployment_id}")


def _stage(doc: Params, name: str) -> Params:
    stage: Params | None = doc["Stages"].get(name)
    if stage is None:
        raise NotFoundException(f"Invalid stage identifier specified {name}", ResourceType="Stage")
    return stage
