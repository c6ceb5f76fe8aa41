"""The EventBridge Scheduler API (``scheduler``) over AWS's REST-JSON protocol.

Requests are routed here by their SigV4 scope (``scheduler``): the operation comes from
the method and path of botocore's ``scheduler`` model (``POST /schedules/{Name}``...),
the parameters are parsed and checked against it as ``protocol.py`` does for Lambda,
and the operation the platform registered is called (``lambdad.events.scheduler``,
which ``api/`` does not import: it comes in as callables). Errors take Scheduler's
shape: status, ``x-amzn-ErrorType`` and ``{"Message": ...}``; anything unexpected is
``InternalServerException`` (500), logged with the request id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote

from lambdad.api.context import RequestContext
from lambdad.api.protocol import ServiceModel, parse_query
from lambdad.errors import AwsError, UnknownOperationException
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

Params = dict[str, Any]
Operation = Callable[[Scope, Params], Awaitable[dict[str, Any]]]
Response = tuple[int, dict[str, str], bytes]


class InternalServerException(AwsError):
    status = 500
    message_key = "Message"


class SchedulerApi:
    def __init__(self, operations: Mapping[str, Operation]) -> None:
        self.model = ServiceModel.load("scheduler")
        self.operations = dict(operations)

    async def __call__(
        self, ctx: RequestContext, method: str, path: str, query_string: str, body: bytes
    ) -> Response:
        try:
            query = parse_query(query_string) if query_string else []
            routed = self.model.route(method, path, dict(query))
            operation = None if routed is None else self.operations.get(routed[0].name)
            if routed is None or operation is None:
                raise UnknownOperationException(f"Unknown operation: {method} {unquote(path)}")
            op, uri_params = routed
            params = self.model.parse_request(op, uri_params, query, ctx.headers, body)
            result = await operation(ctx.scope, params)
            return self.model.serialize_response(op, result)
        except AwsError as exc:
            return _error(exc)
        except Exception:
            log.exception("scheduler %s %s failed in request %s", method, path, ctx.request_id)
            return _error(InternalServerException("Unexpected error occurred."))


def _error(exc: AwsError) -> Response:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code, **exc.headers}
    return exc.status, headers, json.dumps({"Message": exc.message}).encode()
