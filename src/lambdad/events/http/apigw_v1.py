"""API Gateway payload format 1.0: the proxy event and its response rules, for REST API
``AWS_PROXY`` integrations and HTTP API integrations with ``PayloadFormatVersion`` 1.0.

Event (API Gateway Developer Guide, "Input format of a Lambda function for proxy
integration" and "Payload format version" 1.0; field details as AWS recorded them):

- ``headers`` / ``queryStringParameters`` carry the last value of a repeated name,
  ``multiValueHeaders`` / ``multiValueQueryStringParameters`` all of them in order.
  Query keys and values are decoded (``+`` is a space); ``path`` and ``pathParameters``
  are left as sent. Empty ones are ``null``, as is an empty ``body``.
- REST APIs keep header names as sent and drop ``Content-Length``; their body is base64
  only for the API's ``binaryMediaTypes``. ``path`` is the path after the stage,
  ``requestContext.path`` the path with it. No ``version`` field.
- HTTP APIs lower-case header names, base64 non-text bodies by ``body.is_text``, and
  add ``"version": "1.0"``; ``path`` is the path as sent.

Response (``{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}``,
every field optional, ``statusCode`` defaulting to 200): ``headers`` and
``multiValueHeaders`` both apply, ``multiValueHeaders`` first; a field that is not one
of these five, a result that is not an object, wrong types, a function error or a
result over Lambda's 6 MB are a failure: REST APIs answer 502
``{"message": "Internal server error"}``, HTTP APIs 500
``{"message":"Internal Server Error"}``. A REST API decodes an ``isBase64Encoded`` body
only when the request's ``Accept`` names one of its ``binaryMediaTypes`` (otherwise the
client gets the base64 text, as recorded); an HTTP API always decodes it. Without a
``Content-Type`` a REST API answers ``application/json``, an HTTP API
``text/plain; charset=utf-8``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lambdad.events.http.body import event_body, is_text, matches_media_types
from lambdad.events.http.request import (
    HttpRequest,
    IamCaller,
    all_values,
    aws_time,
    forwarded_headers,
    last_values,
    query_pairs,
)
from lambdad.events.http.response import (
    HttpResponse,
    MalformedResult,
    body_bytes,
    flag,
    has_header,
    multi_headers,
    parse_payload,
    single_headers,
    status_code,
    without_transport_headers,
)

MAX_RESPONSE_BYTES: Final = 6 * 1024 * 1024 + 100
_RESPONSE_FIELDS: Final = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)
_IDENTITY_FIELDS: Final = (
    "accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
    "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
    "principalOrgId", "sourceIp", "user", "userAgent", "userArn",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RestTarget:
    """The REST API method a request matched: its API, stage, deployment and resource
    (``resource_path`` such as ``/{proxy+}``), with the values the route bound."""

    api_id: str
    account_id: str
    stage: str
    deployment_id: str
    resource_id: str
    resource_path: str
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    binary_media_types: Sequence[str] = ()


def rest_api_event(
    request: HttpRequest,
    target: RestTarget,
    *,
    iam: IamCaller | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The REST API proxy event. ``request.raw_path`` is the path after the stage."""
    headers = [(n, v) for n, v in forwarded_headers(request) if n.lower() != "content-length"]
    binary = matches_media_types(request.content_type, target.binary_media_types)
    context = _context(request, target.api_id, target.account_id, iam, authorizer)
    context.update(
        {
            "deploymentId": target.deployment_id,
            "path": f"/{target.stage}{request.raw_path}",
            "resourceId": target.resource_id,
            "resourcePath": target.resource_path,
            "stage": target.stage,
        }
    )
    return _event(
        request,
        resource=target.resource_path,
        headers=headers,
        context=_sorted(context),
        path_parameters=target.path_parameters,
        stage_variables=target.stage_variables,
        as_text=not binary,
    )


def http_api_v1_event(
    request: HttpRequest,
    *,
    api_id: str,
    account_id: str,
    stage: str,
    route_key: str,
    path_parameters: Mapping[str, str] | None = None,
    stage_variables: Mapping[str, str] | None = None,
    iam: IamCaller | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The format 1.0 event of an HTTP API route (``route_key`` such as
    ``ANY /{proxy+}`` or ``$default``). ``request.raw_path`` is the path as sent."""
    headers = [(name.lower(), value) for name, value in forwarded_headers(request)]
    resource = route_key.split(" ", 1)[1] if " " in route_key else route_key
    context = _context(request, api_id, account_id, iam, authorizer)
    context.update(
        {
            "path": request.raw_path,
            # The guide's 1.0 example: an HTTP API route has no resource id.
            "resourceId": None,
            "resourcePath": resource,
            "stage": stage,
        }
    )
    event = {"version": "1.0"}
    event.update(
        _event(
            request,
            resource=resource,
            headers=headers,
            context=_sorted(context),
            path_parameters=path_parameters or {},
            stage_variables=stage_variables or {},
            as_text=is_text(request.content_type),
        )
    )
    return event


def rest_api_response(
    payload: bytes,
    *,
    function_error: str | None = None,
    accept: str | None = None,
    binary_media_types: Sequence[str] = (),
) -> HttpResponse:
    """What a REST API answers for the function's result (``accept``: the request's
    ``Accept`` header; its first media type decides whether a base64 body is decoded)."""
    first_accept = accept.split(",", 1)[0] if accept else None
    decode = matches_media_types(first_accept, binary_media_types)
    return _response(payload, function_error, rest=True, decode_base64=decode)


def http_api_v1_response(payload: bytes, *, function_error: str | None = None) -> HttpResponse:
    """What an HTTP API answers for a format 1.0 result."""
    return _response(payload, function_error, rest=False, decode_base64=True)


def rest_failure(reason: str) -> HttpResponse:
    return HttpResponse(
        502,
        (
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "InternalServerErrorException"),
        ),
        b'{"message": "Internal server error"}',
        integration_error=reason,
    )


def http_api_failure(reason: str) -> HttpResponse:
    return HttpResponse(
        500,
        (("Content-Type", "application/json"),),
        b'{"message":"Internal Server Error"}',
        integration_error=reason,
    )


def extended_request_id(request_id: str) -> str:
    """An ``extendedRequestId`` in API Gateway's form (16 base64 characters), derived
    from the request id so that it is stable for one request."""
    digest = hashlib.sha256(request_id.encode()).digest()[:11]
    return base64.b64encode(digest).decode("ascii")[:15] + "="


def _event(
    request: HttpRequest,
    *,
    resource: str,
    headers: list[tuple[str, str]],
    context: dict[str, Any],
    path_parameters: Mapping[str, str],
    stage_variables: Mapping[str, str],
    as_text: bool,
) -> dict[str, Any]:
    query = query_pairs(request.raw_query, decode=True)
    body, encoded = event_body(request.body, as_text=as_text) if request.body else (None, False)
    return {
        "resource": resource,
        "path": request.raw_path,
        "httpMethod": request.method,
        "headers": last_values(headers) or None,
        "multiValueHeaders": all_values(headers) or None,
        "queryStringParameters": last_values(query) or None,
        "multiValueQueryStringParameters": all_values(query) or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": dict(stage_variables) or None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    }


def _context(
    request: HttpRequest,
    api_id: str,
    account_id: str,
    iam: IamCaller | None,
    authorizer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    identity: dict[str, Any] = dict.fromkeys(_IDENTITY_FIELDS)
    identity["sourceIp"] = request.source_ip
    identity["userAgent"] = request.user_agent
    if iam is not None:
        identity.update(
            accessKey=iam.access_key,
            accountId=iam.account_id,
            caller=iam.caller_id,
            principalOrgId=iam.principal_org_id,
            user=iam.user_id,
            userArn=iam.user_arn,
        )
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": request.domain,
        "domainPrefix": request.domain.split(".", 1)[0],
        "extendedRequestId": extended_request_id(request.request_id),
        "httpMethod": request.method,
        "identity": identity,
        "protocol": request.protocol,
        "requestId": request.request_id,
        "requestTime": aws_time(request.time),
        "requestTimeEpoch": request.time_epoch_ms,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return context


def _sorted(context: dict[str, Any]) -> dict[str, Any]:
    # AWS writes requestContext's keys in alphabetical order.
    return {key: context[key] for key in sorted(context)}


def _response(
    payload: bytes, function_error: str | None, *, rest: bool, decode_base64: bool
) -> HttpResponse:
    fail = rest_failure if rest else http_api_failure
    if function_error is not None:
        return fail(f"The function failed: {function_error}")
    try:
        result = parse_payload(payload, MAX_RESPONSE_BYTES)
        if not isinstance(result, dict):
            raise MalformedResult("Malformed Lambda proxy response: not an object")
        unknown = sorted(set(result) - _RESPONSE_FIELDS)
        if unknown:
            raise MalformedResult(f"Malformed Lambda proxy response: unexpected {unknown}")
        raw_status = result.get("statusCode")
        status = 200 if raw_status is None else status_code(raw_status)
        multi = multi_headers(result.get("multiValueHeaders"), "multiValueHeaders")
        # A name and value given in both fields is sent once (the guide).
        seen = {(name.lower(), value) for name, value in multi}
        single = single_headers(result.get("headers"), "headers")
        headers = multi + [(n, v) for n, v in single if (n.lower(), v) not in seen]
        headers = without_transport_headers(headers)
        encoded = flag(result.get("isBase64Encoded"), "isBase64Encoded")
        body = body_bytes(result.get("body"), base64_encoded=encoded and decode_base64)
    except MalformedResult as error:
        return fail(str(error))
    if not has_header(headers, "content-type"):
        default = "application/json" if rest else "text/plain; charset=utf-8"
        headers.insert(0, ("Content-Type", default))
    return HttpResponse(status, tuple(headers), body)
