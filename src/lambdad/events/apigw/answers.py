"""The answers API Gateway gives of its own, when no function answers.

HTTP APIs: ``{"message":"Not Found"}`` 404 (no route), ``{"message":"Internal Server
Error"}`` 500 (no permission, a function error, a malformed result), ``{"message":
"Service Unavailable"}`` 503 (the function is throttled), ``{"message":"Request Entity
Too Large"}`` 413. REST APIs: 403 ``{"message":"Missing Authentication Token"}`` for
a path or method the stage does not have, 500 ``{"message": "Internal server error"}``
when it cannot invoke the function, 502 for a function error or a malformed result
(``http.apigw_v1.rest_failure``), 429 when throttled, 413 too large.
"""

from __future__ import annotations

from typing import Final

from lambdad.events.http.response import HttpResponse

_JSON: Final = (("Content-Type", "application/json"),)


def _answer(status: int, body: bytes, error_type: str | None = None) -> HttpResponse:
    headers = _JSON if error_type is None else (*_JSON, ("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, body)


HTTP_NOT_FOUND: Final = _answer(404, b'{"message":"Not Found"}')
HTTP_SERVER_ERROR: Final = _answer(500, b'{"message":"Internal Server Error"}')
HTTP_THROTTLED: Final = _answer(503, b'{"message":"Service Unavailable"}')
HTTP_TOO_LARGE: Final = _answer(413, b'{"message":"Request Entity Too Large"}')

REST_MISSING_TOKEN: Final = _answer(
    403, b'{"message":"Missing Authentication Token"}', "MissingAuthenticationTokenException"
)
REST_SERVER_ERROR: Final = _answer(
    500, b'{"message": "Internal server error"}', "InternalServerErrorException"
)
REST_THROTTLED: Final = _answer(429, b'{"message":"Too Many Requests"}', "TooManyRequestsException")
REST_TOO_LARGE: Final = _answer(
    413, b'{"message":"Request Entity Too Large"}', "RequestEntityTooLargeException"
)

# Lambda authorizers: no identity (401), refused (403), failed or malformed (500).
HTTP_UNAUTHORIZED: Final = _answer(401, b'{"message":"Unauthorized"}')
HTTP_FORBIDDEN: Final = _answer(403, b'{"message":"Forbidden"}')
REST_UNAUTHORIZED: Final = _answer(401, b'{"message":"Unauthorized"}', "UnauthorizedException")
REST_DENIED: Final = _answer(
    403,
    b'{"Message":"User is not authorized to access this resource with an explicit deny"}',
    "AccessDeniedException",
)
REST_AUTHORIZER_FAILED: Final = _answer(
    500, b'{"message": null}', "AuthorizerConfigurationException"
)
REST_FORBIDDEN: Final = _answer(403, b'{"message":"Forbidden"}', "AccessDeniedException")
