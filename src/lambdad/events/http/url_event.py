"""Payload format 2.0: the event function URLs and HTTP APIs send a function.

The shape is the Lambda Developer Guide's "Request payload format" (function URLs) and
the API Gateway Developer Guide's format 2.0 (HTTP APIs):

- ``headers``: names lower-cased, repeated headers joined with commas; ``Cookie``
  headers leave ``headers`` and become ``cookies``, one element per cookie.
- ``queryStringParameters``: decoded, repeated keys joined with commas.
- ``body`` and ``isBase64Encoded`` by ``body.is_text``.
- Fields with nothing to say are left out (``cookies``, ``queryStringParameters``,
  ``body``, ``pathParameters``, ``stageVariables``, ``requestContext.authorizer``), as
  in events recorded from AWS; the guide allows "null or excludes".
- ``rawPath`` is the path as sent; ``requestContext.http.path`` is it percent-decoded.
- Function URLs: ``routeKey`` and ``stage`` are ``$default``; ``accountId`` is the
  function owner's account for ``AWS_IAM`` URLs (the guide) and ``anonymous`` for
  ``NONE`` URLs (as AWS records it).

The door adds ``X-Forwarded-For/-Port/-Proto`` and ``X-Amzn-Trace-Id`` as AWS's do; it
does not invent the ``x-amzn-tls-*`` headers of a TLS connection it did not terminate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lambdad.events.http.body import event_body, is_text
from lambdad.events.http.request import (
    HttpRequest,
    IamCaller,
    aws_time,
    decoded_path,
    forwarded_headers,
    query_pairs,
)

DEFAULT: Final = "$default"
ANONYMOUS: Final = "anonymous"


def function_url_event(
    request: HttpRequest, *, url_id: str, owner_account_id: str, iam: IamCaller | None = None
) -> dict[str, Any]:
    """The event a function URL sends (``iam``: the signer, for ``AWS_IAM`` URLs).
    ``request.raw_path`` is the path after the URL's root (the ``/lambda-url/<id>`` of
    the path form already removed)."""
    authorizer = {"iam": iam_authorizer(iam)} if iam is not None else None
    return payload_v2_event(
        request,
        api_id=url_id,
        account_id=owner_account_id if iam is not None else ANONYMOUS,
        route_key=DEFAULT,
        stage=DEFAULT,
        authorizer=authorizer,
    )


def payload_v2_event(
    request: HttpRequest,
    *,
    api_id: str,
    account_id: str,
    route_key: str,
    stage: str,
    path_parameters: Mapping[str, str] | None = None,
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The format 2.0 event of an HTTP API route (``route_key`` such as ``GET /pets`` or
    ``$default``; ``authorizer`` the ``iam``/``jwt``/``lambda`` object of the route's
    authorizer). ``request.raw_path`` is the path as the client sent it, stage included."""
    headers, cookies = _headers_and_cookies(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _joined(query_pairs(request.raw_query, decode=True))
    if query:
        event["queryStringParameters"] = query
    context: dict[str, Any] = {"accountId": account_id, "apiId": api_id}
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    context.update(
        {
            "domainName": request.domain,
            "domainPrefix": request.domain.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": decoded_path(request.raw_path),
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": request.user_agent,
            },
            "requestId": request.request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": aws_time(request.time),
            "timeEpoch": request.time_epoch_ms,
        }
    )
    event["requestContext"] = context
    encoded = False
    if request.body:
        event["body"], encoded = event_body(request.body, as_text=is_text(request.content_type))
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def iam_authorizer(caller: IamCaller) -> dict[str, Any]:
    """``requestContext.authorizer.iam`` of format 2.0."""
    return {
        "accessKey": caller.access_key,
        "accountId": caller.account_id,
        "callerId": caller.caller_id,
        "cognitoIdentity": None,
        "principalOrgId": caller.principal_org_id,
        "userArn": caller.user_arn,
        "userId": caller.user_id,
    }


def _headers_and_cookies(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    grouped: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, value in forwarded_headers(request):
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            grouped.setdefault(lowered, []).append(value)
    return {name: ",".join(values) for name, values in grouped.items()}, cookies


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in grouped.items()}
