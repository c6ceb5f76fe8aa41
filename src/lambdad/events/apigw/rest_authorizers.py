"""A REST API's Lambda authorizers (``apigateway`` ``TOKEN`` and ``REQUEST``).

A ``TOKEN`` authorizer reads one header (``identitySource``
``method.request.header.NAME``, required), optionally checked against
``identityValidationExpression`` before the function is asked; a ``REQUEST``
authorizer reads the comma-separated sources it names (headers, query strings, stage
variables). Answers are remembered ``authorizerResultTtlInSeconds`` (default 300, as
AWS). A method uses one with ``authorizationType`` ``CUSTOM`` and its
``authorizerId``. Cognito authorizers are not served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.apigw import names, paging
from lambdad.events.apigw.api_store import REST, ApiStore
from lambdad.model.scope import Scope

Params = dict[str, Any]
AUTHORIZER_ID_LENGTH: Final = 6
_FIELDS: Final = ("name", "type", "authType", "authorizerUri", "authorizerCredentials",
                  "identitySource", "identityValidationExpression",
                  "authorizerResultTtlInSeconds")  # fmt: skip


def check_method_auth(doc: Params, method: Params) -> None:
    kind = method.get("authorizationType", "NONE")
    if kind in ("NONE", "AWS_IAM"):
        return
    if kind != "CUSTOM":
        raise BadRequestException(
            f"lambdad serves methods with authorizationType NONE, AWS_IAM or CUSTOM, not {kind}"
        )
    if method.get("authorizerId") not in doc.get("Authorizers", {}):
        raise BadRequestException("Invalid authorizer ID specified")


class RestAuthorizers:
    def __init__(self, store: ApiStore) -> None:
        self.store = store

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateAuthorizer": self.create_authorizer,
            "GetAuthorizer": self.get_authorizer,
            "GetAuthorizers": self.get_authorizers,
            "DeleteAuthorizer": self.delete_authorizer,
        }

    def create_authorizer(self, scope: Scope, params: Params) -> Params:
        if params["type"] not in ("TOKEN", "REQUEST"):
            raise BadRequestException("lambdad serves TOKEN and REQUEST (Lambda) authorizers only")
        if not params.get("authorizerUri"):
            raise BadRequestException("Authorizer URI is required for TOKEN/REQUEST authorizers")
        if params["type"] == "TOKEN" and not str(params.get("identitySource", "")).startswith(
            "method.request.header."
        ):
            raise BadRequestException(
                "Invalid identity source specified: TOKEN authorizers read "
                "method.request.header.NAME"
            )
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            taken = doc.setdefault("Authorizers", {})
            authorizer_id = names.new_id(AUTHORIZER_ID_LENGTH)
            while authorizer_id in taken:
                authorizer_id = names.new_id(AUTHORIZER_ID_LENGTH)
            authorizer: Params = {"authType": "custom", "authorizerResultTtlInSeconds": 300,
                                  "id": authorizer_id}  # fmt: skip
            authorizer.update({k: params[k] for k in _FIELDS if k in params})
            taken[authorizer_id] = authorizer
            return dict(authorizer)

    def get_authorizer(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(REST, scope, params["restApiId"])
        return dict(_authorizer(doc, params["authorizerId"]))

    def get_authorizers(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(REST, scope, params["restApiId"])
        items = list(doc.get("Authorizers", {}).values())
        listing = f"authorizers/{params['restApiId']}"
        return paging.v1_page(items, params, listing=listing, key="id")

    def delete_authorizer(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            authorizer_id = params["authorizerId"]
            _authorizer(doc, authorizer_id)
            for resource in doc["Resources"].values():
                for method in (resource.get("resourceMethods") or {}).values():
                    if method.get("authorizerId") == authorizer_id:
                        raise ConflictException(
                            "Cannot delete authorizer, is referenced in method: "
                            f"{method['httpMethod']}/{resource['path']}"
                        )
            del doc["Authorizers"][authorizer_id]
        return {}


def _authorizer(doc: Params, authorizer_id: str) -> Params:
    found: Params | None = doc.get("Authorizers", {}).get(authorizer_id)
    if found is None:
        raise NotFoundException("Invalid Authorizer identifier specified")
    return found
