"""Application Load Balancer Lambda targets: the event and the response rules, with the
target group's ``lambda.multi_value_headers.enabled`` off or on.

Event (ELB User Guide, "Lambda functions as targets"):

- ``requestContext.elb.targetGroupArn``, ``httpMethod``, ``path`` (as sent),
  ``body`` (``""`` when empty) and ``isBase64Encoded``: text for ``text/*``,
  ``application/json``, ``application/javascript`` and ``application/xml`` unless a
  ``Content-Encoding`` is present, base64 otherwise.
- Header names lower-cased. The query string is split but not decoded ("the load
  balancer does not decode them").
- Multi-value headers off: ``queryStringParameters`` and ``headers`` with the last value
  of a repeated name. On: only ``multiValueQueryStringParameters`` and
  ``multiValueHeaders``, every value in order. An empty query is ``{}``.
- The balancer adds ``X-Amzn-Trace-Id``, ``X-Forwarded-For``, ``-Port`` and ``-Proto``.

Response: ``statusCode`` (required), ``statusDescription`` (``"200 OK"``: its reason
phrase is sent), ``headers`` (off) or ``multiValueHeaders`` (on; the other field is
ignored), ``body`` and ``isBase64Encoded``. A result that is not such an object,
``headers: null`` (as ALB answers Go's nil map), a function error (a timeout or a
throttle included), a result over 1 MB or headers over 32 KB in all: 502 with the
balancer's HTML page (ELB User Guide, "Troubleshoot your Application Load
Balancers"). Without a ``Content-Type`` the balancer sends ``application/octet-stream``.
"""

from __future__ import annotations

from typing import Any, Final

from lambdad.events.http.body import event_body, is_text
from lambdad.events.http.request import (
    HttpRequest,
    all_values,
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

# "The maximum size of the response JSON that the Lambda function can send is 1 MB."
MAX_RESPONSE_BYTES: Final = 1024 * 1024
# "The maximum size of the request body that you can send to a Lambda function is 1 MB."
MAX_REQUEST_BODY_BYTES: Final = 1024 * 1024
# 502 when "the target response header exceeded 32 K for the entire response header".
MAX_HEADER_BYTES: Final = 32 * 1024
BAD_GATEWAY_PAGE: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def alb_event(
    request: HttpRequest, *, target_group_arn: str, multi_value_headers: bool = False
) -> dict[str, Any]:
    """The event a load balancer sends the Lambda target of ``target_group_arn``."""
    headers = [(name.lower(), value) for name, value in forwarded_headers(request)]
    query = query_pairs(request.raw_query, decode=False)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": request.method,
        "path": request.raw_path,
    }
    if multi_value_headers:
        event["multiValueQueryStringParameters"] = all_values(query)
        event["multiValueHeaders"] = all_values(headers)
    else:
        event["queryStringParameters"] = last_values(query)
        event["headers"] = last_values(headers)
    as_text = is_text(request.content_type) and request.first_header("content-encoding") is None
    body, encoded = event_body(request.body, as_text=as_text) if request.body else ("", False)
    event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def alb_response(
    payload: bytes, *, multi_value_headers: bool = False, function_error: str | None = None
) -> HttpResponse:
    """What the load balancer answers for the function's result."""
    if function_error is not None:
        return bad_gateway(f"The function failed: {function_error}")
    try:
        result = parse_payload(payload, MAX_RESPONSE_BYTES)
        if not isinstance(result, dict):
            raise MalformedResult("The Lambda response is not an object")
        if "statusCode" not in result:
            raise MalformedResult("The Lambda response has no statusCode")
        status = status_code(result["statusCode"])
        reason = _reason(result.get("statusDescription"), status)
        key = "multiValueHeaders" if multi_value_headers else "headers"
        if key in result and result[key] is None:
            raise MalformedResult(f"{key} is null")
        if multi_value_headers:
            headers = multi_headers(result.get(key), key)
        else:
            headers = single_headers(result.get(key), key)
        headers = without_transport_headers(headers)
        if sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEADER_BYTES:
            raise MalformedResult("The response headers exceed 32 KB")
        encoded = flag(result.get("isBase64Encoded"), "isBase64Encoded")
        body = body_bytes(result.get("body"), base64_encoded=encoded)
    except MalformedResult as error:
        return bad_gateway(str(error))
    if not has_header(headers, "content-type"):
        headers.insert(0, ("Content-Type", "application/octet-stream"))
    return HttpResponse(status, tuple(headers), body, reason=reason)


def bad_gateway(reason: str) -> HttpResponse:
    """The balancer's own 502 page."""
    return HttpResponse(
        502,
        (("Content-Type", "text/html"),),
        BAD_GATEWAY_PAGE,
        reason="Bad Gateway",
        integration_error=reason,
    )


def _reason(description: object, status: int) -> str | None:
    """The reason phrase of ``statusDescription`` (``"200 OK"`` → ``OK``)."""
    if description is None:
        return None
    if not isinstance(description, str):
        raise MalformedResult(f"statusDescription must be a string, not {description!r}")
    code, _, phrase = description.partition(" ")
    if code == str(status):
        return phrase or None
    return description or None
