"""Code signing configurations (``CreateCodeSigningConfig`` and the rest), and which
function uses which (``PutFunctionCodeSigningConfig`` and the rest).

A configuration: kind ``code-signing-config`` under the name ``csc:``, key its id. A
function's: kind ``code-signing-binding`` under the function's name (so deleting the
function drops it), empty key, ``{"CodeSigningConfigArn": ...}``. What the checks of a
package are is ``control/code_verify``.
"""

from __future__ import annotations

import secrets
from typing import Any

from lambdad.clock import Clock
from lambdad.control.code_verify import BINDING_KIND, CONFIG_KIND, CONFIG_NAME, CodeVerifier
from lambdad.control.functions import FunctionService
from lambdad.control.paging import page
from lambdad.errors import InvalidParameterValueException, ResourceConflictException
from lambdad.model.arn import function_arn
from lambdad.model.function import now_iso
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class CodeSigningConfigs:
    def __init__(self, functions: FunctionService, verifier: CodeVerifier, clock: Clock) -> None:
        self.functions = functions
        self.verifier = verifier
        self.store = verifier.store
        self.clock = clock

    def _render(self, doc: Doc) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k != "Tags"}

    def create(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        cid = "csc-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))
        doc: Doc = {
            "CodeSigningConfigId": cid,
            "CodeSigningConfigArn": (
                f"arn:aws:lambda:{scope.region}:{scope.account}:code-signing-config:{cid}"
            ),
            "Description": params.get("Description", ""),
            "AllowedPublishers": params["AllowedPublishers"],
            "CodeSigningPolicies": {
                "UntrustedArtifactOnDeployment": (params.get("CodeSigningPolicies") or {}).get(
                    "UntrustedArtifactOnDeployment", "Warn"
                )
            },
            "LastModified": now_iso(self.clock.now()),
            "Tags": dict(params.get("Tags") or {}),
        }
        self.store.put_child(CONFIG_KIND, scope.account, scope.region, CONFIG_NAME, cid, doc)
        return {"CodeSigningConfig": self._render(doc)}

    def get(self, scope: Scope, arn: str) -> dict[str, Any]:
        doc = self.verifier.config(scope, arn, by_function=False)
        return {"CodeSigningConfig": self._render(doc)}

    def update(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.verifier.config(scope, params["CodeSigningConfigArn"], by_function=False)
        if "Description" in params:
            doc["Description"] = params["Description"]
        if "AllowedPublishers" in params:
            doc["AllowedPublishers"] = params["AllowedPublishers"]
        policies = params.get("CodeSigningPolicies") or {}
        if "UntrustedArtifactOnDeployment" in policies:
            doc["CodeSigningPolicies"] = {
                "UntrustedArtifactOnDeployment": policies["UntrustedArtifactOnDeployment"]
            }
        doc["LastModified"] = now_iso(self.clock.now())
        cid = doc["CodeSigningConfigId"]
        self.store.put_child(CONFIG_KIND, scope.account, scope.region, CONFIG_NAME, cid, doc)
        return {"CodeSigningConfig": self._render(doc)}

    def delete(self, scope: Scope, arn: str) -> None:
        doc = self.verifier.config(scope, arn, by_function=False)
        users = self._functions_using(scope, arn)
        if users:
            raise ResourceConflictException(
                "The code signing configuration cannot be deleted because it is used by the "
                f"following functions: {', '.join(users)}"
            )
        self.store.delete_child(
            CONFIG_KIND, scope.account, scope.region, CONFIG_NAME, doc["CodeSigningConfigId"]
        )

    def list_configs(
        self, scope: Scope, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        rows = sorted(self.store.list_children(CONFIG_KIND, *_where(scope)), key=lambda r: r[0])
        items, next_marker = page(
            [(key, self._render(doc)) for key, doc in rows], marker, max_items
        )
        out: dict[str, Any] = {"CodeSigningConfigs": items}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    def list_functions(
        self, scope: Scope, arn: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        self.verifier.config(scope, arn, by_function=False)
        users = self._functions_using(scope, arn)
        items, next_marker = page([(u, u) for u in users], marker, max_items)
        out: dict[str, Any] = {"FunctionArns": items}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    def _functions_using(self, scope: Scope, arn: str) -> list[str]:
        found = self.store.find_children(BINDING_KIND, "CodeSigningConfigArn", arn)
        return sorted(
            function_arn(region, account, name)
            for account, region, name, _, _ in found
            if (account, region) == (scope.account, scope.region)
        )

    # -- a function's configuration ------------------------------------------------------

    def _function(self, scope: Scope, function_name: str) -> str:
        ref = self.functions.function_ref(scope, function_name)
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                "Unsupported value for qualifier, function name or ARN must not contain a "
                "qualifier."
            )
        self.functions.function_doc(scope, ref.name)  # ResourceNotFoundException
        return ref.name

    def put_for_function(self, scope: Scope, function_name: str, arn: str) -> dict[str, Any]:
        name = self._function(scope, function_name)
        self.verifier.config(scope, arn)
        self.bind(scope, name, arn)
        return {"CodeSigningConfigArn": arn, "FunctionName": name}

    def bind(self, scope: Scope, name: str, arn: str) -> None:
        doc = {"CodeSigningConfigArn": arn}
        self.store.put_child(BINDING_KIND, scope.account, scope.region, name, "", doc)

    def get_for_function(self, scope: Scope, function_name: str) -> dict[str, Any]:
        name = self._function(scope, function_name)
        arn = self.verifier.bound_config(scope, name)
        return {"CodeSigningConfigArn": arn or "", "FunctionName": name}

    def delete_for_function(self, scope: Scope, function_name: str) -> None:
        name = self._function(scope, function_name)
        self.store.delete_child(BINDING_KIND, scope.account, scope.region, name, "")


def _where(scope: Scope) -> tuple[str, str, str]:
    return scope.account, scope.region, CONFIG_NAME
