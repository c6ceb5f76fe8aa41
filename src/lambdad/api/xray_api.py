"""The X-Ray API subset (``xray``) over AWS's REST-JSON protocol.

Requests signed for ``xray`` are routed here by their SigV4 scope: the operation comes
from the method and path of botocore's ``xray`` model (``POST /TraceSegments``...), the
parameters are checked against it, and ``observe/tracing_service.py`` answers, in the
caller's account and region. Errors take X-Ray's shape: status, ``x-amzn-ErrorType`` and
``{"Message": ...}``; anything unexpected is logged with the request id and answered as
a 500.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import unquote

from lambdad.api.context import RequestContext
from lambdad.api.protocol import ServiceModel, parse_query
from lambdad.errors import AwsError, UnknownOperationException
from lambdad.observe.tracing_service import InvalidRequestException, TracingService

log = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], bytes]


class ServiceException(AwsError):
    status = 500
    message_key = "Message"


class XRayApi:
    def __init__(self, service: TracingService) -> None:
        self.model = ServiceModel.load("xray")
        self.service = service

    async def __call__(
        self, ctx: RequestContext, method: str, path: str, query_string: str, body: bytes
    ) -> Response:
        try:
            query = parse_query(query_string) if query_string else []
            routed = self.model.route(method, path, dict(query))
            if routed is None:
                raise UnknownOperationException(f"Unknown operation: {method} {unquote(path)}")
            op, uri_params = routed
            params = self.model.parse_request(op, uri_params, query, ctx.headers, body)
            result = self._answer(ctx, op.name, params)
            return self.model.serialize_response(op, result)
        except AwsError as exc:
            return _error(exc)
        except Exception:
            log.exception("xray %s %s failed in request %s", method, path, ctx.request_id)
            return _error(ServiceException("Unexpected error occurred."))

    def _answer(self, ctx: RequestContext, name: str, params: dict[str, Any]) -> dict[str, Any]:
        scope = ctx.scope
        if name == "PutTraceSegments":
            docs = params.get("TraceSegmentDocuments") or []
            return {"UnprocessedTraceSegments": self.service.put_segments(scope, docs)}
        if name == "GetTraceSummaries":
            for key in ("StartTime", "EndTime"):
                value = params.get(key)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InvalidRequestException(f"{key} must be a timestamp")
                if not math.isfinite(value):
                    raise InvalidRequestException(f"{key} must be a timestamp")
            return self.service.summaries(scope, params)
        if name == "BatchGetTraces":
            return self.service.batch_get(scope, params.get("TraceIds") or [])
        if name == "GetTraceGraph":
            return self.service.graph(scope, params.get("TraceIds") or [])
        raise UnknownOperationException(f"Unknown operation: {name}")


def _error(exc: AwsError) -> Response:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code, **exc.headers}
    return exc.status, headers, json.dumps({"Message": exc.message}).encode()
