"""The HTTP front door: one ASGI app for every API lambdad serves on its port.

Per request: read the body (bounded), authenticate with SigV4, pick the service
(the Lambda REST API by path, the CloudWatch Logs JSON API by ``X-Amz-Target``,
presigned code downloads), parse and validate the parameters from botocore's
model, call the handler, serialise. Every failure is an AWS-shaped error from
``api.errors``; nothing escapes as a framework page or a traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lambdad.api import sigv4
from lambdad.api.context import RequestContext
from lambdad.api.errors import render_error
from lambdad.api.lambda_api import CODE_PATH, LambdaApi
from lambdad.api.logs_api import LogsApi
from lambdad.api.protocol import ServiceModel, parse_query
from lambdad.errors import (
    ForeignFunctionDenied,
    InvalidParameterValueException,
    RequestTooLargeException,
    ResourceNotFoundException,
    UnknownOperationException,
)

if TYPE_CHECKING:
    from lambdad.platform import Platform

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# IAM action names where they differ from the operation's.
_ACTIONS = {"Invoke": "lambda:InvokeFunction", "InvokeAsync": "lambda:InvokeAsync"}

# A 50 MB zip, base64-encoded inside JSON, is ~70 MB on the wire.
MAX_BODY = 72 * 1024 * 1024


class App:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.lambda_model = ServiceModel.load("lambda")
        # Limits AWS enforces that the published model states looser (newer botocore
        # models carry the larger limits of other compute types).
        self.lambda_model.overrides.update(
            Timeout={"max": 900},
            MemorySize={"max": 10240},
            EphemeralStorageSize={"max": 10240},
        )
        self.lambda_api = LambdaApi(platform)
        self.extra_services: dict[
            str,
            Callable[[RequestContext, str, bytes], Awaitable[tuple[int, dict[str, str], bytes]]],
        ] = {}
        self.extra_services["Logs_20140328"] = LogsApi(platform.logs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = str(uuid.uuid4())
        try:
            status, headers, body = await self._handle(scope, receive, request_id)
        except Exception as exc:
            json_protocol = any(k == b"x-amz-target" for k, _ in scope["headers"])
            status, headers, body = render_error(exc, request_id, json_protocol=json_protocol)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.platform.start_background()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.platform.stop_background()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, receive: Receive, declared: int | None) -> bytes:
        if declared is not None and declared > MAX_BODY:
            raise RequestTooLargeException(
                "Request must be smaller than 6291456 bytes for the operation"
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise RequestTooLargeException(
                    "Request must be smaller than 6291456 bytes for the operation"
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _handle(
        self, scope: Scope, receive: Receive, request_id: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        method: str = scope["method"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        query_string = scope.get("query_string", b"").decode("latin-1")
        header_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = {k.lower(): v for k, v in header_list}
        declared = headers.get("content-length")
        body = await self._read_body(
            receive, int(declared) if declared and declared.isdigit() else None
        )

        principal = sigv4.verify(
            method,
            path,
            query_string,
            header_list,
            body,
            self.platform.lookup_credential,
            self.platform.clock.now(),
        )
        host = headers.get("host", f"{self.platform.settings.host}:{self.platform.settings.port}")
        ctx = RequestContext(principal, request_id, f"http://{host}", headers)

        target = headers.get("x-amz-target")
        if target is not None:
            service = self.extra_services.get(target.split(".", 1)[0])
            if service is None:
                raise UnknownOperationException(f"Unknown operation {target}")
            status, out_headers, out_body = await service(ctx, target, body)
            return (
                status,
                self._headers(out_headers, request_id, "application/x-amz-json-1.1"),
                out_body,
            )

        if path.startswith(CODE_PATH) and method == "GET":
            return self._download_code(path[len(CODE_PATH) :], request_id)

        query = parse_query(query_string)
        routed = self.lambda_model.route(method, path.split("?", 1)[0], dict(query))
        if routed is None:
            raise UnknownOperationException(f"Unknown operation: {method} {unquote(path)}")
        op, uri_params = routed
        handler = self.lambda_api.handlers.get(op.name)
        if handler is None:
            raise InvalidParameterValueException(
                f"The operation {op.name} is not supported by lambdad yet."
            )
        params = self.lambda_model.parse_request(op, uri_params, query, headers, body)
        try:
            result = await handler(ctx, params)
        except ForeignFunctionDenied as exc:
            raise exc.for_action(_ACTIONS.get(op.name, f"lambda:{op.name}")) from None
        status, out_headers, out_body = self.lambda_model.serialize_response(op, result or {})
        ctype = "application/json"
        return status, self._headers(out_headers, request_id, ctype), out_body

    @staticmethod
    def _headers(h: dict[str, str], request_id: str, ctype: str) -> list[tuple[bytes, bytes]]:
        out = [(b"x-amzn-requestid", request_id.encode())]
        if not any(k.lower() == "content-type" for k in h):
            out.append((b"content-type", ctype.encode()))
        out.extend((k.lower().encode(), v.encode()) for k, v in h.items())
        return out

    def _download_code(
        self, name: str, request_id: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        sha = name.split("/", 1)[0]
        if not (len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise ResourceNotFoundException("Code not found.")
        if not self.platform.blobs.exists(sha):
            raise ResourceNotFoundException("Code not found.")
        data = self.platform.blobs.get(sha)
        return (
            200,
            [
                (b"content-type", b"application/zip"),
                (b"x-amzn-requestid", request_id.encode()),
            ],
            data,
        )
