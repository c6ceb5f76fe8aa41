"""An HTTP API's Lambda authorizers (``apigatewayv2`` ``REQUEST`` authorizers).

An authorizer names its function by ``AuthorizerUri`` (the
``arn:aws:apigateway:…:lambda:path/2015-03-31/functions/<arn>/invocations`` form, or
the function ARN), the payload format it gets (``AuthorizerPayloadFormatVersion``
``1.0`` or ``2.0``, required as AWS requires it), whether it answers simply
(``EnableSimpleResponses``, 2.0 only), where the identity is read
(``IdentitySource``) and how long an answer is remembered
(``AuthorizerResultTtlInSeconds``, 0 to 3600; identity sources are needed to cache).
``JWT`` authorizers (``jwt_run``) name the token's ``Issuer`` and ``Audience`` in
``JwtConfiguration`` and read it from one identity source. A route uses one with
``AuthorizationType`` ``CUSTOM`` (Lambda) or ``JWT`` (with its ``AuthorizationScopes``)
and its ``AuthorizerId``; an authorizer a route uses cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.apigw import names, paging
from lambdad.events.apigw.api_store import HTTP, ApiStore
from lambdad.events.websocket import control as websocket
from lambdad.model.scope import Scope

Params = dict[str, Any]
AUTHORIZER_ID_LENGTH: Final = 6
_JWT_SOURCES: Final = ("$request.header.", "$request.querystring.")
_FIELDS: Final = (
    "AuthorizerCredentialsArn", "AuthorizerPayloadFormatVersion", "AuthorizerResultTtlInSeconds",
    "AuthorizerType", "AuthorizerUri", "EnableSimpleResponses", "IdentitySource",
    "IdentityValidationExpression", "JwtConfiguration", "Name",
)  # fmt: skip


def authorizers(doc: Params) -> Params:
    found: Params = doc.setdefault("Authorizers", {})
    return found


def check_route_auth(doc: Params, route: Params) -> None:
    """A route's ``AuthorizationType``: ``NONE``, ``AWS_IAM``, or ``CUSTOM``/``JWT``
    with an authorizer of the API of that type."""
    kind = route.get("AuthorizationType", "NONE")
    if kind in ("NONE", "AWS_IAM"):
        return
    if kind not in ("CUSTOM", "JWT"):
        raise BadRequestException(
            f"lambdad serves routes with AuthorizationType NONE, AWS_IAM, CUSTOM or JWT, not {kind}"
        )
    found = authorizers(doc).get(str(route.get("AuthorizerId")))
    if found is None:
        raise BadRequestException(f"Invalid authorizer id specified: {route.get('AuthorizerId')}")
    if (found["AuthorizerType"] == "JWT") != (kind == "JWT"):
        raise BadRequestException(
            f"AuthorizationType {kind} does not match authorizer type {found['AuthorizerType']}"
        )


def new_authorizer(doc: Params, params: Params) -> Params:
    """A new authorizer of the API ``doc`` (CreateAuthorizer's parameters)."""
    taken = authorizers(doc)
    authorizer: Params = {"AuthorizerId": _fresh_id(taken)}
    if params.get("AuthorizerType") != "JWT":
        authorizer["AuthorizerResultTtlInSeconds"] = 0
    authorizer.update({k: params[k] for k in _FIELDS if k in params})
    _check(doc, authorizer)
    taken[authorizer["AuthorizerId"]] = authorizer
    return authorizer


class HttpAuthorizers:
    def __init__(self, store: ApiStore) -> None:
        self.store = store

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateAuthorizer": self.create_authorizer,
            "GetAuthorizer": self.get_authorizer,
            "GetAuthorizers": self.get_authorizers,
            "UpdateAuthorizer": self.update_authorizer,
            "DeleteAuthorizer": self.delete_authorizer,
        }

    def create_authorizer(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            return dict(new_authorizer(doc, params))

    def get_authorizer(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        return dict(_authorizer(doc, params["AuthorizerId"]))

    def get_authorizers(self, scope: Scope, params: Params) -> Params:
        doc = self.store.get(HTTP, scope, params["ApiId"])
        listing = f"authorizers/{params['ApiId']}"
        items = list(authorizers(doc).values())
        return paging.v2_page(items, params, listing=listing, key="AuthorizerId")

    def update_authorizer(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            authorizer = _authorizer(doc, params["AuthorizerId"])
            changed: Params = {**authorizer, **{k: params[k] for k in _FIELDS if k in params}}
            _check(doc, changed)
            authorizer.update(changed)
            return dict(authorizer)

    def delete_authorizer(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(HTTP, scope, params["ApiId"]) as doc:
            authorizer_id = params["AuthorizerId"]
            _authorizer(doc, authorizer_id)
            if any(r.get("AuthorizerId") == authorizer_id for r in doc["Routes"].values()):
                raise ConflictException(
                    f"Authorizer {authorizer_id} is used by a route and cannot be deleted"
                )
            del authorizers(doc)[authorizer_id]
        return {}


def _check(doc: Params, authorizer: Params) -> None:
    if websocket.is_websocket(doc):
        websocket.check_authorizer(authorizer)
        return
    if authorizer.get("AuthorizerType") == "JWT":
        _check_jwt(authorizer)
        return
    if authorizer.get("AuthorizerType") != "REQUEST":
        raise BadRequestException("AuthorizerType must be REQUEST or JWT")
    if not authorizer.get("AuthorizerUri"):
        raise BadRequestException("AuthorizerUri is required for REQUEST authorizers")
    version = authorizer.get("AuthorizerPayloadFormatVersion")
    if version not in ("1.0", "2.0"):
        raise BadRequestException(
            "AuthorizerPayloadFormatVersion must be 1.0 or 2.0 for REQUEST authorizers"
        )
    if authorizer.get("EnableSimpleResponses") and version != "2.0":
        raise BadRequestException("EnableSimpleResponses is only supported for payload 2.0")
    caching = authorizer.get("AuthorizerResultTtlInSeconds", 0) > 0
    if caching and not authorizer.get("IdentitySource"):
        raise BadRequestException("Identity sources are required when caching is enabled")


def _check_jwt(authorizer: Params) -> None:
    settings = authorizer.get("JwtConfiguration")
    if not isinstance(settings, dict) or not settings.get("Issuer"):
        raise BadRequestException("JwtConfiguration with an Issuer is required for JWT authorizers")
    if not str(settings["Issuer"]).startswith(("https://", "http://")):
        raise BadRequestException(f"Invalid issuer: {settings['Issuer']}")
    sources = authorizer.get("IdentitySource") or []
    if len(sources) != 1 or not str(sources[0]).startswith(_JWT_SOURCES):
        # "a single entry ... only header-based and query parameter-based selections"
        raise BadRequestException(
            "A JWT authorizer takes one identity source, $request.header.NAME or "
            "$request.querystring.NAME"
        )
    if authorizer.get("AuthorizerUri"):
        raise BadRequestException("AuthorizerUri is not supported for JWT authorizers")


def _authorizer(doc: Params, authorizer_id: str) -> Params:
    found: Params | None = authorizers(doc).get(authorizer_id)
    if found is None:
        raise NotFoundException(f"Invalid Authorizer identifier specified {authorizer_id}",
                                ResourceType="Authorizer")  # fmt: skip
    return found


def _fresh_id(taken: Params) -> str:
    while True:
        authorizer_id = names.new_id(AUTHORIZER_ID_LENGTH)
        if authorizer_id not in taken:
            return authorizer_id
