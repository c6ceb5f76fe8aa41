"""The events an API's integration (or authorizer) gets, and the answer its function's
result makes, by the API's kind and payload format: ``events.http``'s builders fed
with what the route or method (``dispatch.Target``) and the authorizer's ``Verdict``
say (pure).

``requestContext.authorizer`` after a Lambda authorizer: format 2.0
``{"lambda": context}``; format 1.0 and REST APIs the context's keys with
``principalId`` and ``integrationLatency``, as AWS writes them. After ``AWS_IAM``:
format 2.0 ``{"iam": {...}}``, 1.0 and REST the signer in ``identity``. After a JWT
authorizer: format 2.0 ``{"jwt": {"claims", "scopes"}}``, 1.0 ``{"claims", "scopes"}``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lambdad.events.apigw.api_store import HTTP, Found
from lambdad.events.apigw.authorizer_core import Verdict
from lambdad.events.apigw.dispatch import Target
from lambdad.events.apigw.jwt_core import Grant, event_claims
from lambdad.events.http import apigw_v1
from lambdad.events.http.request import HttpRequest, IamCaller
from lambdad.events.http.response import HttpResponse
from lambdad.events.http.url_event import iam_authorizer, payload_v2_event
from lambdad.events.http.url_response import Door, payload_v2_response

REST = "REST"


def version_of(found: Found, target: Target) -> str:
    """``REST``, or the HTTP API integration's ``1.0``/``2.0``."""
    return REST if found.kind != HTTP else target.payload_version


def proxy_event(
    found: Found,
    request: HttpRequest,
    target: Target,
    version: str,
    verdict: Verdict | Grant | None = None,
    iam: IamCaller | None = None,
) -> dict[str, Any]:
    doc, account = found.doc, found.scope.account
    api_id = doc["ApiId"]
    if version == REST:
        after_stage = dataclasses.replace(request, raw_path=target.path)
        rest_target = apigw_v1.RestTarget(
            api_id=api_id,
            account_id=account,
            stage=target.stage,
            deployment_id=target.deployment_id,
            resource_id=target.resource_id,
            resource_path=target.resource_path,
            path_parameters=target.path_parameters,
            stage_variables=target.stage_variables,
            binary_media_types=binary_media_types(found),
        )
        return apigw_v1.rest_api_event(after_stage, rest_target, iam=iam, authorizer=_v1(verdict))
    if version == "1.0":
        return apigw_v1.http_api_v1_event(
            request,
            api_id=api_id,
            account_id=account,
            stage=target.stage,
            route_key=target.route_key,
            path_parameters=target.path_parameters,
            stage_variables=target.stage_variables,
            iam=iam,
            authorizer=_v1(verdict),
        )
    return payload_v2_event(
        request,
        api_id=api_id,
        account_id=account,
        route_key=target.route_key,
        stage=target.stage,
        path_parameters=target.path_parameters,
        stage_variables=target.stage_variables,
        authorizer=_v2(verdict, iam),
    )


def proxy_response(
    found: Found,
    request: HttpRequest,
    target: Target,
    payload: bytes,
    error: str | None,
) -> HttpResponse:
    version = version_of(found, target)
    if version == REST:
        return apigw_v1.rest_api_response(
            payload,
            function_error=error,
            accept=request.first_header("accept"),
            binary_media_types=binary_media_types(found),
        )
    if version == "1.0":
        return apigw_v1.http_api_v1_response(payload, function_error=error)
    return payload_v2_response(payload, door=Door.HTTP_API, function_error=error)


def binary_media_types(found: Found) -> tuple[str, ...]:
    return tuple(found.doc["Api"].get("binaryMediaTypes") or ())


def _v2(verdict: Verdict | Grant | None, iam: IamCaller | None) -> dict[str, Any] | None:
    if iam is not None:
        return {"iam": iam_authorizer(iam)}
    if isinstance(verdict, Grant):
        return {"jwt": _jwt(verdict)}
    return None if verdict is None else {"lambda": dict(verdict.context)}


def _jwt(grant: Grant) -> dict[str, Any]:
    scopes = None if grant.scopes is None else list(grant.scopes)
    return {"claims": event_claims(grant.claims), "scopes": scopes}


def _v1(verdict: Verdict | Grant | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    if isinstance(verdict, Grant):
        return _jwt(verdict)
    out: dict[str, Any] = dict(verdict.context)
    if verdict.principal_id is not None:
        out["principalId"] = verdict.principal_id
    out["integrationLatency"] = 0
    return out
