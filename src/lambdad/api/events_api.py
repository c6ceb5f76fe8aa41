"""The EventBridge API (``events``) over AWS's JSON 1.1 protocol (awsJson1_1).

A request is ``POST /`` with ``X-Amz-Target: AWSEvents.<Operation>`` and a JSON body,
signed for the ``events`` service. This module parses and validates the body against
botocore's ``events`` model and calls the operation the platform registered for it
(the rules, targets, buses and ``PutEvents`` of ``lambdad.events``, which ``api/`` does
not import: they come in as callables). Errors take the awsJson shape botocore reads:
``x-amzn-ErrorType`` and ``{"__type": ..., "message": ...}``; anything unexpected is
EventBridge's ``InternalException`` (500), logged with the request id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.protocol import ServiceModel
from lambdad.errors import AwsError, UnknownOperationException
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSEvents"
CONTENT_TYPE = "application/x-amz-json-1.1"

Params = dict[str, Any]
Operation = Callable[[Scope, Params], Awaitable[dict[str, Any]]]
Response = tuple[int, dict[str, str], bytes]


class SerializationException(AwsError):
    """The body is not a JSON object."""


class InternalException(AwsError):
    """EventBridge's fault: the one 5xx it answers."""

    status = 500


class EventsApi:
    def __init__(self, operations: Mapping[str, Operation]) -> None:
        self.model = ServiceModel.load("events")
        self.operations = dict(operations)

    async def __call__(self, ctx: RequestContext, target: str, body: bytes) -> Response:
        try:
            prefix, _, name = target.partition(".")
            operation = self.operations.get(name) if prefix == TARGET_PREFIX else None
            if operation is None:
                raise UnknownOperationException(f"Unknown operation {target}")
            result = await operation(ctx.scope, self._parse(name, body))
        except AwsError as exc:
            return _error(exc)
        except Exception:
            log.exception("events operation %s failed in request %s", target, ctx.request_id)
            return _error(InternalException("An internal error occurred."))
        out = json.dumps(result, separators=(",", ":")).encode()
        return 200, {"Content-Type": CONTENT_TYPE}, out

    def _parse(self, operation: str, body: bytes) -> Params:
        if not body.strip():
            body = b"{}"
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise SerializationException("Could not parse request body as JSON") from None
        if not isinstance(doc, dict):
            raise SerializationException("The request body must be a JSON object")
        return self.model.parse_request(self.model.operations[operation], {}, [], {}, body)


def _error(exc: AwsError) -> Response:
    # EventBridge answers every client error 400 (a missing rule too).
    status = 500 if isinstance(exc, InternalException) else 400
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": exc.code, **exc.headers}
    body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
    return status, headers, body
