"""API Gateway's control APIs: ``apigatewayv2`` (HTTP APIs, paths under ``/v2/``) and
``apigateway`` (REST APIs: ``/restapis``…), both rest-json and both signed for
``apigateway``, so one responder registered by that signing scope answers both.

A request is routed and its URI and query members parsed by botocore's model
(``protocol.ServiceModel``), its body renamed from wire names to member names
(``wire_names``) and validated; the operation the platform registered for it (from
``lambdad.events.apigw``, passed in as callables) runs on a worker thread, and its
output is renamed back. Errors take API Gateway's shape: ``x-amzn-ErrorType`` and
``{"message": ...}`` (HTTP APIs' ``NotFoundException`` adds ``resourceType``);
constraint violations are its ``BadRequestException``; anything unexpected is logged
with the request id and answered 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.protocol import ServiceModel, parse_query
from lambdad.api.wire_names import to_members, to_wire
from lambdad.errors import AwsError, BadRequestException, ValidationException
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

Params = dict[str, Any]
Operation = Callable[[Scope, Params], Params]
Offload = Callable[..., Awaitable[Any]]
Response = tuple[int, dict[str, str], bytes]
V2_PREFIX = "/v2/"


class ServiceError(AwsError):
    status = 500


class ApiGatewayApi:
    def __init__(
        self,
        http_operations: Mapping[str, Operation],
        rest_operations: Mapping[str, Operation],
        offload: Offload,
    ) -> None:
        self.models = {
            "apigatewayv2": ServiceModel.load("apigatewayv2"),
            "apigateway": ServiceModel.load("apigateway"),
        }
        self.operations = {"apigatewayv2": dict(http_operations),
                           "apigateway": dict(rest_operations)}  # fmt: skip
        self.offload = offload

    async def __call__(
        self, ctx: RequestContext, method: str, path: str, query: str, body: bytes
    ) -> Response:
        service = "apigatewayv2" if path.startswith(V2_PREFIX) else "apigateway"
        try:
            operation, params = self._parse(service, method, path, query, ctx.headers, body)
            result = await self.offload(operation[1], ctx.scope, params)
            return self._render(service, operation[0], result)
        except AwsError as exc:
            return _error(exc)
        except Exception:
            log.exception("%s %s %s failed in request %s", service, method, path, ctx.request_id)
            return _error(ServiceError("Internal server error"))

    def _parse(
        self,
        service: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[tuple[str, Operation], Params]:
        model = self.models[service]
        pairs = parse_query(query)
        routed = model.route(method, path, dict(pairs))
        if routed is None:
            raise _UnknownOperation(f"Unknown operation: {method} {path}")
        op, uri = routed
        operation = self.operations[service].get(op.name)
        if operation is None:
            raise BadRequestException(f"The operation {op.name} is not supported by lambdad yet.")
        members = b""
        if op.input_shape is not None and "payload" in model.shapes[op.input_shape]:
            members = body  # the body is one member as sent (an imported definition)
        elif body.strip() and op.input_shape is not None:
            try:
                doc = json.loads(body)
            except (ValueError, RecursionError):
                raise BadRequestException("Invalid request body: not JSON") from None
            members = json.dumps(to_members(model.shapes, op.input_shape, doc)).encode()
        try:
            params = model.parse_request(op, uri, pairs, headers, members)
        except ValidationException as exc:
            raise BadRequestException(exc.message) from None
        except AwsError as exc:
            raise BadRequestException(exc.message) from None
        return (op.name, operation), params

    def _render(self, service: str, name: str, result: Params) -> Response:
        model = self.models[service]
        op = model.operations[name]
        if op.output_shape is None or op.status in (202, 204):
            return op.status, {"Content-Type": "application/json"}, b""
        doc = to_wire(model.shapes, op.output_shape, result)
        return op.status, {"Content-Type": "application/json"}, json.dumps(doc).encode()


class _UnknownOperation(AwsError):
    status = 404

    @property
    def code(self) -> str:
        return "UnknownOperationException"


def _error(exc: AwsError) -> Response:
    body: dict[str, Any] = {"message": exc.message}
    if "ResourceType" in exc.fields:
        body["resourceType"] = exc.fields["ResourceType"]
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code, **exc.headers}
    return exc.status, headers, json.dumps(body).encode()
