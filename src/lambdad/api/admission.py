"""How much body a request may send, decided from its head before any of it is read.

The HTTP protocol (``api/http.py``) asks, through its ``Gate``, once the head of a
request with a large or chunked body is in: a request that cannot authenticate is
answered at once, any other is bounded by what its operation takes (an invoke
payload, a code upload, or the small body of everything else) rather than by the
largest any operation takes (``MAX_BODY``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lambdad.api import sigv4
from lambdad.api.context import new_request_id
from lambdad.api.errors import render_error
from lambdad.api.sts_api import is_sts_request
from lambdad.clock import Clock
from lambdad.errors import (
    AwsError,
    RequestEntityTooLargeException,
    RequestTooLargeException,
    TooManyRequestsException,
)
from lambdad.model.artifacts import ARTIFACTS_PATH
from lambdad.model.credential import Credential
from lambdad.model.front_door import BodyLimit

Response = tuple[int, list[tuple[bytes, bytes]], bytes]

# A 50 MB zip, base64-encoded inside JSON, is ~70 MB on the wire.
MAX_BODY = 72 * 1024 * 1024
# The most body any other operation takes (Logs' PutLogEvents: 1 MB of events, escaped).
SMALL_BODY = 2 * 1024 * 1024
# Over an invoke payload's limit, the operation's own error (with its limit) answers.
_PAYLOAD_SLACK = 64 * 1024
# What an operation that uploads code may send, as AWS states it (a 50 MB zip,
# base64-encoded inside JSON, and the rest of the request), by its route.
UPLOAD_BODY = 70167211
_UPLOADS = (
    (re.compile(r"/2015-03-31/functions/?"), "CreateFunction"),
    (re.compile(r"/2015-03-31/functions/[^/]+/code/?"), "UpdateFunctionCode"),
    (re.compile(r"/2018-10-31/layers/[^/]+/versions/?"), "PublishLayerVersion"),
)
# `lambdad sign` uploads an archive to be signed.
_SIGN = re.compile(r"/_lambdad/signing-profiles/[^/]+/sign")
# The service a request must be signed for, by its X-Amz-Target's prefix (else lambda).
_TARGET_SERVICES = {
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    # CloudWatch's awsJson 1.0 (the AWS CLI v1): answered by its scope's responder.
    "GraniteServiceVersion20100801": "monitoring",
}


def signing_service(headers: list[tuple[str, str]], query_string: str = "") -> str | None:
    """The service a request must be signed for: the JSON API's for its target; without
    one, the scoped service it claims (``sigv4.SCOPED_SERVICES``), else lambda (None: an
    unknown target, refused once it is routed)."""
    target = next((v for k, v in headers if k == "x-amz-target"), None)
    if target is None:
        claimed = sigv4.signing_service(headers, query_string)
        return claimed if claimed in sigv4.SCOPED_SERVICES else "lambda"
    return _TARGET_SERVICES.get(target.split(".", 1)[0])


def refuse(headers: list[tuple[str, str]]) -> Response:
    """The answer to a request whose body is over ``MAX_BODY``."""
    return render_error(
        RequestTooLargeException("Request must be smaller than 6291456 bytes for the operation"),
        new_request_id(),
        json_protocol=any(k == "x-amz-target" for k, _ in headers),
    )


def throttle(headers: list[tuple[str, str]]) -> Response:
    """The answer to a body that would take the port over its body budget."""
    return render_error(
        TooManyRequestsException("Rate exceeded", reason="CallerRateLimitExceeded"),
        new_request_id(),
        json_protocol=any(k == "x-amz-target" for k, _ in headers),
    )


class Admission:
    def __init__(
        self,
        lookup_credential: Callable[[str], Credential | None],
        clock: Clock,
        *,
        max_sync_payload: int,
        open_session: sigv4.OpenSession | None = None,
    ) -> None:
        self.lookup_credential = lookup_credential
        self.open_session = open_session
        self.clock = clock
        self.max_sync_payload = max_sync_payload

    def admit(
        self, method: str, path: str, query_string: str, headers: list[tuple[str, str]]
    ) -> Response | int | BodyLimit:
        """The ``Gate`` of api/http.py: an answer refuses the request now (it cannot
        authenticate), else the most body its operation takes."""
        if path[:2] in ("/", "/?") and is_sts_request(path, query_string, headers):
            return SMALL_BODY  # STS authenticates, and answers, in its own shape
        json_protocol = any(k == "x-amz-target" for k, _ in headers)
        try:
            sigv4.check_head(
                method,
                path,
                query_string,
                headers,
                self.lookup_credential,
                self.clock.now(),
                service=(service := signing_service(headers, query_string)),
                sessions=self.open_session,
            )
        except AwsError as exc:
            return render_error(exc, new_request_id(), json_protocol=json_protocol)
        route = path.partition("?")[0]
        if json_protocol or service in sigv4.SCOPED_SERVICES:
            # `lambdad deploy` uploads a stack's code (a zip, raw) to cloudformation's scope.
            if service == "cloudformation" and route == ARTIFACTS_PATH and method == "PUT":
                return MAX_BODY
            return SMALL_BODY
        if route.rstrip("/").endswith("invocations"):
            limit = self.max_sync_payload
            return _bounded(limit + _PAYLOAD_SLACK, limit, "InvokeFunction")
        if "/invoke-async" in route:
            return self.max_sync_payload + _PAYLOAD_SLACK
        for pattern, operation in _UPLOADS:
            if pattern.fullmatch(route):
                return _bounded(UPLOAD_BODY, UPLOAD_BODY, operation)
        if _SIGN.fullmatch(route):
            return MAX_BODY
        return SMALL_BODY


def _bounded(most: int, limit: int, operation: str) -> BodyLimit:
    """``most``, and AWS's answer for ``operation`` to a body over it (declared in the
    head, or found so as a chunked one arrives)."""

    def over() -> Response:
        error = RequestEntityTooLargeException(
            f"Request must be smaller than {limit} bytes for the {operation} operation"
        )
        return render_error(error, new_request_id(), json_protocol=False)

    return BodyLimit(most, over)
