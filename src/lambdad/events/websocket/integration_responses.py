"""A WebSocket API's integration responses (``CreateIntegrationResponse``…), kept in
their integration (so a deployment's snapshot carries them).

A key is ``$default`` (the catch-all) or a regular expression between slashes
(``/4\\d\\d/``), matched against the backend's status; the key is unique in its
integration. As AWS's guide says of proxy integrations, "there is no integration
response": the Lambda proxy integrations lambdad runs pass the function's output
through, so these are kept and answered, never applied. HTTP APIs have none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from lambdad.errors import BadRequestException, ConflictException
from lambdad.events.apigw import names as apigw_names
from lambdad.events.apigw import paging
from lambdad.events.apigw.api_store import HTTP, ApiStore
from lambdad.events.websocket import names
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

RESPONSES: Final = "IntegrationResponses"
_FIELDS: Final = (
    "ContentHandlingStrategy",
    "IntegrationResponseKey",
    "ResponseParameters",
    "ResponseTemplates",
    "TemplateSelectionExpression",
)


def valid_key(key: str) -> bool:
    """``$default``, or ``/regex/`` with a regular expression that compiles."""
    if key == names.DEFAULT:
        return True
    if len(key) < 3 or not (key.startswith("/") and key.endswith("/")):
        return False
    try:
        re.compile(key[1:-1])
    except re.error:
        return False
    return True


class IntegrationResponses:
    def __init__(self, store: ApiStore) -> None:
        self.store = store

    def operations(self) -> dict[str, Callable[[Scope, Doc], Doc]]:
        return {
            "CreateIntegrationResponse": self.create,
            "GetIntegrationResponse": self.get,
            "GetIntegrationResponses": self.get_all,
            "UpdateIntegrationResponse": self.update,
            "DeleteIntegrationResponse": self.delete,
        }

    def create(self, scope: Scope, params: Doc) -> Doc:
        key = str(params["IntegrationResponseKey"])
        _check_key(key)
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            responses = _integration(doc, params["IntegrationId"]).setdefault(RESPONSES, {})
            if any(r["IntegrationResponseKey"] == key for r in responses.values()):
                raise ConflictException(f"Integration response with key {key} already exists")
            response: Doc = {"IntegrationResponseId": _fresh_id(responses)}
            response.update({k: params[k] for k in _FIELDS if k in params})
            responses[response["IntegrationResponseId"]] = response
            return dict(response)

    def get(self, scope: Scope, params: Doc) -> Doc:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        integration = _integration(doc, params["IntegrationId"])
        return dict(_response(integration, params["IntegrationResponseId"]))

    def get_all(self, scope: Scope, params: Doc) -> Doc:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        integration = _integration(doc, params["IntegrationId"])
        items = list((integration.get(RESPONSES) or {}).values())
        listing = f"integrationresponses/{params['ApiId']}/{params['IntegrationId']}"
        return paging.v2_page(items, params, listing=listing, key="IntegrationResponseId")

    def update(self, scope: Scope, params: Doc) -> Doc:
        if "IntegrationResponseKey" in params:
            _check_key(str(params["IntegrationResponseKey"]))
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            integration = _integration(doc, params["IntegrationId"])
            response = _response(integration, params["IntegrationResponseId"])
            key = params.get("IntegrationResponseKey", response["IntegrationResponseKey"])
            others = [r for r in integration[RESPONSES].values() if r is not response]
            if any(r["IntegrationResponseKey"] == key for r in others):
                raise ConflictException(f"Integration response with key {key} already exists")
            response.update({k: params[k] for k in _FIELDS if k in params})
            return dict(response)

    def delete(self, scope: Scope, params: Doc) -> Doc:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            integration = _integration(doc, params["IntegrationId"])
            _response(integration, params["IntegrationResponseId"])
            del integration[RESPONSES][params["IntegrationResponseId"]]
        return {}


def _check_key(key: str) -> None:
    if not valid_key(key):
        raise BadRequestException(
            f"Invalid IntegrationResponseKey: {key}. Use $default or a regular expression "
            "between slashes, such as /4\\d\\d/"
        )


def _integration(doc: Doc, integration_id: str) -> Doc:
    if doc.get("Api", {}).get("ProtocolType") != names.WEBSOCKET:
        raise BadRequestException("Integration responses are supported for WebSocket APIs only")
    return apigw_names.part(doc["Integrations"], integration_id, "Integration")


def _response(integration: Doc, response_id: str) -> Doc:
    return apigw_names.part(integration.get(RESPONSES) or {}, response_id, "IntegrationResponse")


def _fresh_id(taken: Doc) -> str:
    return apigw_names.unused_id(taken, 7)
