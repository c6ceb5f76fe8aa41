"""Capacity providers (Lambda Managed Instances): ``Create``/``Get``/``Update``/
``Delete``/``List`` ``CapacityProvider(s)``, ``ListFunctionVersionsByCapacityProvider``
and tags on a provider's ARN.

On one host there are no instances to choose, launch or scale: a provider is stored,
checked as AWS checks it, answered with every member it was given, ``Active`` at once,
and named by functions' ``CapacityProviderConfig`` (which must name one of the
caller's account and region that exists). A version on a provider has a function
scaling configuration (control/function_scaling.py), honoured by
environments/scaling.py.

Providers are scoped documents (store/scoped_docs.py) of kind ``capacity-provider``
under one parent name per account and region, keyed by the provider's name.
"""

from __future__ import annotations

import re
from typing import Any

from lambdad.clock import Clock
from lambdad.control.paging import page
from lambdad.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model.arn import LATEST, function_arn
from lambdad.model.function import now_iso
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.scoped_docs import ScopedDocs

KIND = "capacity-provider"
HOLDER = "cp:"  # the parent name the providers are stored under
MAX_TAGS = 50
_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"capacity-provider:(?P<name>[a-zA-Z0-9-_]+)"
)
_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_CREATE_MEMBERS = (
    "VpcConfig",
    "PermissionsConfig",
    "InstanceRequirements",
    "CapacityProviderScalingConfig",
    "KmsKeyArn",
    "PropagateTags",
    "TelemetryConfig",
)
_UPDATE_MEMBERS = ("CapacityProviderScalingConfig", "PropagateTags", "TelemetryConfig")


def provider_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:lambda:{scope.region}:{scope.account}:capacity-provider:{name}"


class CapacityProviders:
    def __init__(self, store: MetadataStore, clock: Clock) -> None:
        self.store = store
        self.docs = ScopedDocs(store, KIND)
        self.clock = clock

    # -- look-ups ------------------------------------------------------------------------

    def name_of(self, scope: Scope, name_or_arn: str) -> str:
        """The provider's name from a name or an ARN of the caller's account and region
        (another's is not found: it cannot be reached from here)."""
        found = _ARN.fullmatch(name_or_arn)
        if found is not None:
            if (found["region"], found["account"]) != (scope.region, scope.account):
                raise self._not_found(name_or_arn)
            return found["name"]
        if not _NAME.fullmatch(name_or_arn):
            raise InvalidParameterValueException(f"Invalid capacity provider: {name_or_arn}")
        return name_or_arn

    def doc(self, scope: Scope, name_or_arn: str) -> Doc:
        """The stored provider; ResourceNotFoundException if there is none."""
        name = self.name_of(scope, name_or_arn)
        doc = self.docs.get(scope, HOLDER, name)
        if doc is None:
            raise self._not_found(provider_arn(scope, name))
        return doc

    def check_config(self, scope: Scope, config: dict[str, Any] | None) -> None:
        """A function's ``CapacityProviderConfig``: it names an existing provider."""
        if not config:
            return
        managed = config.get("LambdaManagedInstancesCapacityProviderConfig") or {}
        arn = managed.get("CapacityProviderArn")
        if not arn:
            raise InvalidParameterValueException(
                "CapacityProviderArn is required in LambdaManagedInstancesCapacityProviderConfig."
            )
        self.doc(scope, arn)

    @staticmethod
    def _not_found(arn: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Capacity provider not found: {arn}")

    # -- the operations ------------------------------------------------------------------

    def create(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name = self.name_of(scope, params["CapacityProviderName"])
        _check(scope, params)
        with self.store.transaction():
            if self.docs.get(scope, HOLDER, name) is not None:
                raise ResourceConflictException(
                    f"Capacity provider already exists: {provider_arn(scope, name)}"
                )
            tags = dict(params.get("Tags") or {})
            if len(tags) > MAX_TAGS:
                raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
            doc: Doc = {"CapacityProviderArn": provider_arn(scope, name), "State": "Active"}
            doc.update({k: params[k] for k in _CREATE_MEMBERS if k in params})
            doc["LastModified"] = now_iso(self.clock.now())
            doc["Tags"] = tags
            self.docs.put(scope, HOLDER, name, doc)
        return {"CapacityProvider": _render(doc)}

    def get(self, scope: Scope, name_or_arn: str) -> dict[str, Any]:
        return {"CapacityProvider": _render(self.doc(scope, name_or_arn))}

    def update(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.transaction():
            doc = self.doc(scope, params["CapacityProviderName"])
            _check(scope, params)
            doc.update({k: params[k] for k in _UPDATE_MEMBERS if k in params})
            doc["LastModified"] = now_iso(self.clock.now())
            self._put(scope, doc)
        return {"CapacityProvider": _render(doc)}

    def delete(self, scope: Scope, name_or_arn: str) -> dict[str, Any]:
        with self.store.transaction():
            doc = self.doc(scope, name_or_arn)
            if self._versions(scope, doc["CapacityProviderArn"]):
                raise ResourceConflictException(
                    "The capacity provider cannot be deleted while function versions use it."
                )
            name = doc["CapacityProviderArn"].rsplit(":", 1)[-1]
            self.docs.delete(scope, HOLDER, name)
        return {"CapacityProvider": {**_render(doc), "State": "Deleting"}}

    def list_providers(
        self, scope: Scope, state: str | None, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        rows = sorted(self.docs.list(scope, HOLDER))
        chosen = [(k, _render(d)) for k, d in rows if state is None or d.get("State") == state]
        items, next_marker = page(chosen, marker, max_items)
        out: dict[str, Any] = {"CapacityProviders": items}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    def list_function_versions(
        self, scope: Scope, name_or_arn: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        arn = self.doc(scope, name_or_arn)["CapacityProviderArn"]
        items, next_marker = page(self._versions(scope, arn), marker, max_items)
        out: dict[str, Any] = {"CapacityProviderArn": arn, "FunctionVersions": items}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    def _versions(self, scope: Scope, arn: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for name, _ in self.store.list_functions(scope.account, scope.region, None, 1 << 30):
            for version, vdoc in self.store.list_versions(scope.account, scope.region, name):
                if provider_of(vdoc) != arn:
                    continue
                qualified = function_arn(scope.region, scope.account, name, version)
                key = f"{name}:{'' if version == LATEST else version.zfill(12)}"
                item = {"FunctionArn": qualified, "State": vdoc.get("State", "Active")}
                out.append((key, item))
        return sorted(out, key=lambda row: row[0])

    # -- tags ----------------------------------------------------------------------------

    def tag(self, scope: Scope, arn: str, tags: dict[str, str]) -> None:
        with self.store.transaction():
            doc = self.doc(scope, arn)
            doc.setdefault("Tags", {}).update(tags)
            if len(doc["Tags"]) > MAX_TAGS:
                raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
            self._put(scope, doc)

    def untag(self, scope: Scope, arn: str, keys: list[str]) -> None:
        with self.store.transaction():
            doc = self.doc(scope, arn)
            for key in keys:
                doc.get("Tags", {}).pop(key, None)
            self._put(scope, doc)

    def list_tags(self, scope: Scope, arn: str) -> dict[str, Any]:
        return {"Tags": dict(self.doc(scope, arn).get("Tags") or {})}

    def _put(self, scope: Scope, doc: Doc) -> None:
        name = doc["CapacityProviderArn"].rsplit(":", 1)[-1]
        self.docs.put(scope, HOLDER, name, doc)


def provider_of(version_doc: Doc) -> str | None:
    """The capacity provider ARN a function version runs on (None: on demand)."""
    config = version_doc.get("CapacityProviderConfig") or {}
    managed = config.get("LambdaManagedInstancesCapacityProviderConfig") or {}
    arn = managed.get("CapacityProviderArn")
    return str(arn) if arn else None


def _check(scope: Scope, params: dict[str, Any]) -> None:
    role = (params.get("PermissionsConfig") or {}).get("CapacityProviderOperatorRoleArn", "")
    parts = role.split(":")
    if len(parts) > 4 and parts[4] and parts[4] != scope.account:
        raise AccessDeniedException("Cross-account pass role is not allowed.")
    requirements = params.get("InstanceRequirements") or {}
    if requirements.get("AllowedInstanceTypes") and requirements.get("ExcludedInstanceTypes"):
        raise InvalidParameterValueException(
            "AllowedInstanceTypes and ExcludedInstanceTypes cannot be specified together."
        )
    scaling = params.get("CapacityProviderScalingConfig") or {}
    mode, policies = scaling.get("ScalingMode"), scaling.get("ScalingPolicies")
    if mode == "Auto" and policies:
        raise InvalidParameterValueException(
            "ScalingPolicies cannot be specified when ScalingMode is Auto."
        )
    if mode == "Manual" and not policies:
        raise InvalidParameterValueException(
            "ScalingPolicies must be specified when ScalingMode is Manual."
        )


def _render(doc: Doc) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "Tags"}
