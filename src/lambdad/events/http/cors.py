"""CORS at a function URL: the preflight answered from the URL's ``Cors`` settings and
the headers added to the function's answers (Lambda Developer Guide, "Cross-origin
resource sharing (CORS)").

With ``Cors`` configured, Lambda answers an ``OPTIONS`` preflight itself (the function
is not invoked) and replaces any CORS headers the function returns with its own. A
request whose ``Origin`` the settings do not allow gets no ``Access-Control-*``
headers: the browser then refuses the answer, as it would AWS's. Without ``Cors``,
everything, ``OPTIONS`` included, reaches the function untouched.
"""

from __future__ import annotations

from typing import Final

from lambdad.events.http.request import HttpRequest
from lambdad.events.http.response import HttpResponse
from lambdad.model.function_url import Cors

_PREFIX: Final = "access-control-"


def is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and request.first_header("origin") is not None
        and request.first_header("access-control-request-method") is not None
    )


def allowed_origin(cors: Cors, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` to answer ``origin`` with, or None."""
    if origin is None:
        return None
    if "*" in cors.allow_origins:
        return "*"
    wanted = origin.lower()
    return origin if any(o.lower() == wanted for o in cors.allow_origins) else None


def preflight(cors: Cors, request: HttpRequest) -> HttpResponse:
    """The answer to a preflight: 200, no body, the settings that apply to its origin."""
    origin = allowed_origin(cors, request.first_header("origin"))
    headers: list[tuple[str, str]] = []
    if origin is not None:
        headers.append(("Access-Control-Allow-Origin", origin))
        if cors.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    headers.append(("Vary", "Origin"))
    return HttpResponse(200, tuple(headers), b"")


def with_cors(cors: Cors, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """``response`` with the function's own CORS headers replaced by the URL's."""
    kept = [(k, v) for k, v in response.headers if not k.lower().startswith(_PREFIX)]
    origin = allowed_origin(cors, request.first_header("origin"))
    if origin is not None:
        kept.append(("Access-Control-Allow-Origin", origin))
        if cors.expose_headers:
            kept.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
        if cors.allow_credentials:
            kept.append(("Access-Control-Allow-Credentials", "true"))
    kept.append(("Vary", "Origin"))
    return HttpResponse(
        response.status,
        tuple(kept),
        response.body,
        reason=response.reason,
        integration_error=response.integration_error,
    )
