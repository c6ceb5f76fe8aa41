"""The one place that turns errors into HTTP responses, in AWS's shape.

Status, ``x-amzn-ErrorType``, ``x-amzn-RequestId``, and a JSON body of
``{"Type": "User", "message": ...}`` (``"Message"`` for the exceptions AWS spells
so). Anything unexpected becomes a ServiceException with the request id, logged
with its traceback here and never shown to the client.
"""

from __future__ import annotations

import json
import logging

from lambdad.errors import AwsError, ServiceException

log = logging.getLogger(__name__)


def render_error(
    exc: BaseException, request_id: str, *, json_protocol: bool = False
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """``json_protocol``: the request used the awsJson protocol (``X-Amz-Target``),
    whose clients read the error code from ``__type`` in the body."""
    if not isinstance(exc, AwsError):
        log.exception("unexpected error in request %s", request_id, exc_info=exc)
        exc = ServiceException("An internal error occurred. Request id: " + request_id)
    doc = exc.body()
    if json_protocol:
        doc = {"__type": exc.code, **doc}
    body = json.dumps(doc, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", exc.code.encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    headers.extend((k.lower().encode(), v.encode()) for k, v in exc.headers.items())
    return exc.status, headers, body
