"""The HTTP front door: one ASGI app for every API lambdad serves on its port.

Per request: read the body (bounded), authenticate with SigV4, pick the service
(the Lambda REST API by path, the CloudWatch Logs and EventBridge JSON APIs by
``X-Amz-Target``, STS by its signing scope, presigned code downloads), parse and validate the
parameters from botocore's model, call the handler, serialise. Every failure is an
AWS-shaped error from ``api.errors``; nothing escapes as a framework page or a traceback.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import unquote

from lambdad.api import role_auth, sigv4
from lambdad.api.admission import MAX_BODY, Response, refuse, signing_service
from lambdad.api.code_links import CODE_PATH, CodeLinks
from lambdad.api.context import RequestContext, new_request_id
from lambdad.api.errors import render_error
from lambdad.api.events_api import EventsApi
from lambdad.api.handlers import Handler
from lambdad.api.logs_api import LogsApi
from lambdad.api.protocol import Operation, ServiceModel, parse_query
from lambdad.api.sts_api import StsApi, is_sts_request
from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.errors import (
    ForeignFunctionDenied,
    InvalidParameterValueException,
    RequestTooLargeException,
    UnknownOperationException,
)
from lambdad.invoke.async_stats import FunctionStatistics
from lambdad.model.credential import Credential
from lambdad.model.role_policy import DEFAULT as DEFAULT_ROLE_POLICY
from lambdad.model.runtimes import AWS_RUNTIME_ENUM
from lambdad.model.streamed_body import StreamedBody

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# An API answered by its signing scope: (context, method, raw path, raw query, body) ->
# (status, headers, body); the content type defaults to JSON when it names none.
ScopedService = Callable[
    [RequestContext, str, str, str, bytes], Awaitable[tuple[int, dict[str, str], bytes]]
]

# lambdad's own: asynchronous invocation counters per function (`lambdad async-stats`).
ASYNC_STATS_PATH = "/_lambdad/async-stats"
# IAM action names where they differ from the operation's.
_ACTIONS = {
    "Invoke": "lambda:InvokeFunction",
    "InvokeWithResponseStream": "lambda:InvokeFunction",
    "InvokeAsync": "lambda:InvokeAsync",
}

# Entries of the route and parameter caches (both are cleared when full).
_CACHE_SIZE = 4096


class OwnApi(Protocol):
    """One of lambdad's own endpoints under ``/_lambdad/`` (signing profiles, the
    debugger), signed for lambda; a role session needs ``action`` in its policy."""

    action: str

    def answers(self, path: str) -> bool: ...

    def respond(
        self, ctx: RequestContext, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]: ...


class Lifecycle(Protocol):
    """The platform's background work, started and stopped with the server."""

    async def start_background(self) -> None: ...

    async def stop_background(self) -> None: ...


# An API named by its X-Amz-Target prefix: (context, target, body) -> (status, headers, body).
JsonTargetService = Callable[
    [RequestContext, str, bytes], Awaitable[tuple[int, dict[str, str], bytes]]
]


class App:
    def __init__(
        self,
        settings: Settings,
        routes: Mapping[str, Handler],
        *,
        lookup_credential: Callable[[str], Credential | None],
        clock: Clock,
        code_links: CodeLinks,
        logs: LogsApi,
        events: EventsApi,
        async_statistics: Callable[[], Awaitable[Sequence[FunctionStatistics]]],
        lifecycle: Lifecycle,
        scoped_services: Mapping[str, ScopedService] | None = None,
        own_apis: Sequence[OwnApi] = (),
        open_session: sigv4.OpenSession | None = None,
        role_policy: role_auth.PolicyFor = lambda _role: DEFAULT_ROLE_POLICY,
        extra_services: Mapping[str, JsonTargetService] | None = None,
    ) -> None:
        self.own_apis = tuple(own_apis)
        self.routes = routes
        self.lookup_credential = lookup_credential
        # Execution-role sessions (model/session.py): how their tokens open, and what
        # their role may do.
        self.open_session = open_session
        self.role_policy = role_policy
        self.clock = clock
        self.code_links = code_links
        self.async_statistics = async_statistics
        self.lifecycle = lifecycle
        self.lambda_model = ServiceModel.load("lambda")
        # Limits AWS enforces that the published model states looser (newer botocore
        # models carry the larger limits of other compute types).
        self.lambda_model.overrides.update(
            Timeout={"max": 900},
            MemorySize={"max": 10240},
            EphemeralStorageSize={"max": 10240},
            # A function's runtime is checked against AWS's own list by the operation
            # (InvalidParameterValueException); a layer's runtimes against it here.
            Runtime={"enum": ()},
            CompatibleRuntimes={"enum": AWS_RUNTIME_ENUM},
        )
        self.extra_services: dict[str, JsonTargetService] = {}
        self.extra_services["Logs_20140328"] = logs
        self.extra_services["AWSEvents"] = events
        # Other JSON-target APIs, by their X-Amz-Target prefix (CodeDeploy's hook reports).
        self.extra_services.update(extra_services or {})
        # The APIs routed by the service their requests are signed for (by name, one
        # of sigv4.SCOPED_SERVICES): they parse, answer and render their own errors.
        self.scoped_services = dict(scoped_services or {})
        self.sts_api = StsApi(lookup_credential, clock, open_session)
        self._default_host = f"{settings.host}:{settings.port}"
        self._routes: dict[tuple[str, str, str], tuple[Operation, dict[str, str]]] = {}
        self._parsed: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._blob_payload = _blob_payload_operations(self.lambda_model)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        declared = next((v for k, v in headers if k == "content-length"), None)
        try:
            body = await self._read_body(
                receive, int(declared) if declared and declared.isdigit() else None
            )
        except RequestTooLargeException:
            status, out_headers, out_body = refuse(headers)
        else:
            raw_path = scope.get("raw_path") or scope["path"].encode()
            status, out_headers, out_body = await self.respond(
                scope["method"],
                raw_path.decode("latin-1"),
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
            )
        if type(out_body) is StreamedBody:  # sent as it is produced
            await send({"type": "http.response.start", "status": status, "headers": out_headers})
            async for piece in out_body.chunks:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        out_headers.append((b"content-length", str(len(out_body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": out_body})

    async def respond(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        """The answer to one complete request: ``path`` and ``query_string`` as they came
        on the wire (percent-encoded), ``headers`` with lower-case names. Never raises:
        every failure is answered as AWS answers it."""
        request_id = new_request_id()
        if path[:2] in ("/", "/?") and is_sts_request(path, query_string, headers):
            return self.sts_api.respond(method, path, query_string, headers, body, request_id)
        try:
            return await self._handle(method, path, query_string, headers, body, request_id)
        except Exception as exc:
            json_protocol = any(k == "x-amz-target" for k, _ in headers)
            return render_error(exc, request_id, json_protocol=json_protocol)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.lifecycle.start_background()
                # What exists now (botocore's models, the platform) lives as long as the
                # server: out of the collector's way, so that its full collections, every
                # few thousand requests, do not walk it again each time.
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.lifecycle.stop_background()
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
        self,
        method: str,
        path: str,
        query_string: str,
        header_list: list[tuple[str, str]],
        body: bytes,
        request_id: str,
    ) -> Response:
        headers = dict(header_list)
        principal = sigv4.verify(
            method,
            path,
            query_string,
            header_list,
            body,
            self.lookup_credential,
            self.clock.now(),
            service=signing_service(header_list, query_string),
            sessions=self.open_session,
        )
        host = headers.get("host", self._default_host)
        ctx = RequestContext(principal, request_id, f"http://{host}", headers)

        scoped = self.scoped_services.get(principal.service)
        if principal.session is not None and principal.service in sigv4.SCOPED_SERVICES:
            # Their operations are named by their own parsers: a role needs them all.
            role_auth.check(principal, self.role_policy, f"{principal.service}:*", "*")
        if scoped is not None:
            status, out_headers, out_body = await scoped(ctx, method, path, query_string, body)
            return status, self._headers(out_headers, request_id, "application/json"), out_body
        if principal.service in sigv4.SCOPED_SERVICES:
            raise UnknownOperationException(f"Unknown operation: {method} {unquote(path)}")

        target = headers.get("x-amz-target")
        if target is not None:
            service = self.extra_services.get(target.split(".", 1)[0])
            if service is None:
                raise UnknownOperationException(f"Unknown operation {target}")
            if principal.session is not None:
                action, iam_service = role_auth.target_action(target)
                logs = iam_service == "logs"
                resource = role_auth.logs_resource(principal, body) if logs else "*"
                role_auth.check(principal, self.role_policy, action, resource)
            status, out_headers, out_body = await service(ctx, target, body)
            return (
                status,
                self._headers(out_headers, request_id, "application/x-amz-json-1.1"),
                out_body,
            )

        if path.startswith(CODE_PATH) and method == "GET":
            return self.code_links.download(path[len(CODE_PATH) :], principal, request_id)
        route = path.split("?", 1)[0]
        own = next((api for api in self.own_apis if api.answers(route)), None)
        if own is not None:
            if principal.session is not None:  # the operator's keys: no role's by default
                role_auth.check(principal, self.role_policy, own.action, "*")
            status, extra, answer = own.respond(ctx, method, route, body)
            return status, self._headers(extra, request_id, "application/json"), answer
        if path == ASYNC_STATS_PATH and method == "GET":
            # `lambdad async-stats`: the signer's own functions in the signed region.
            rows = await self.async_statistics()
            mine = [
                r.as_dict()
                for r in rows
                if (r.account, r.region) == (principal.credential.account_id, principal.region)
            ]
            out = json.dumps({"Functions": mine}).encode()
            return 200, self._headers({}, request_id, "application/json"), out

        query = parse_query(query_string) if query_string else []
        op, uri_params = self._route(method, path.split("?", 1)[0], query_string, query)
        handler = self.routes.get(op.name)
        if handler is None:
            raise InvalidParameterValueException(
                f"The operation {op.name} is not supported by lambdad yet."
            )
        params = self._parse(op, uri_params, query, headers, body)
        action = _ACTIONS.get(op.name, f"lambda:{op.name}")
        if principal.session is not None:
            resource = role_auth.lambda_resource(principal, params)
            role_auth.check(principal, self.role_policy, action, resource)
        try:
            result = await handler(ctx, params)
        except ForeignFunctionDenied as exc:
            raise exc.for_action(action, principal.arn) from None
        status, out_headers, out_body = self.lambda_model.serialize_response(op, result or {})
        ctype = "application/json"
        return status, self._headers(out_headers, request_id, ctype), out_body

    def _route(
        self, method: str, path: str, query_string: str, query: list[tuple[str, str]]
    ) -> tuple[Operation, dict[str, str]]:
        # Matching a path tries every operation's pattern; the same few paths come again
        # and again (an invoked function's), so their answers are kept.
        key = (method, path, query_string)
        routed = self._routes.get(key)
        if routed is None:
            routed = self.lambda_model.route(method, path, dict(query))
            if routed is None:
                raise UnknownOperationException(f"Unknown operation: {method} {unquote(path)}")
            if len(self._routes) >= _CACHE_SIZE:
                self._routes.clear()
            self._routes[key] = routed
        return routed

    def _parse(
        self,
        op: Operation,
        uri_params: dict[str, str],
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """``parse_request``, remembered for operations whose body is an opaque blob
        (Invoke): their parameters, payload aside, depend on the URI, the query and a
        few headers only, and the blob itself is never constrained."""
        shape = self._blob_payload.get(op.name)
        if shape is None:
            return self.lambda_model.parse_request(op, uri_params, query, headers, body)
        payload_member, header_names = shape
        key = (
            op.name,
            tuple(uri_params.items()),
            tuple(query),
            tuple(headers.get(h) for h in header_names),
        )
        known = self._parsed.get(key)
        if known is None:
            params = self.lambda_model.parse_request(op, uri_params, query, headers, body)
            known = {k: v for k, v in params.items() if k != payload_member}
            if len(self._parsed) >= _CACHE_SIZE:
                self._parsed.clear()
            self._parsed[key] = known
            return params
        params = dict(known)
        params[payload_member] = body
        return params

    @staticmethod
    def _headers(h: dict[str, str], request_id: str, ctype: str) -> list[tuple[bytes, bytes]]:
        out = [(b"x-amzn-requestid", request_id.encode())]
        if not any(k.lower() == "content-type" for k in h):
            out.append((b"content-type", ctype.encode()))
        out.extend((k.lower().encode(), v.encode()) for k, v in h.items())
        return out


def _blob_payload_operations(model: ServiceModel) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Operation -> (payload member, lower-case names of its header members), for every
    operation whose request body is an unconstrained blob payload."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for op in model.operations.values():
        if op.input_shape is None:
            continue
        shape = model.shapes[op.input_shape]
        payload = shape.get("payload")
        if payload is None:
            continue
        target = shape["members"][payload]["shape"]
        if model.shapes[target]["type"] != "blob" or target in model.overrides:
            continue
        out[op.name] = (
            payload,
            tuple(
                ref.get("locationName", member).lower()
                for member, ref in shape["members"].items()
                if ref.get("location") == "header"
            ),
        )
    return out
