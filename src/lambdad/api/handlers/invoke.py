"""Handlers for invoking a function: ``Invoke`` (all three invocation types),
``InvokeWithResponseStream`` and the deprecated ``InvokeAsync``.

A synchronous invocation answers with the function's result; an asynchronous one
once the event is on disk. ``InvokeWithResponseStream`` answers once the function
starts streaming (or is done), then sends its event stream as the response arrives
(``api/invoke_stream.py``; a buffered result framed by ``stream_events``); what fails
before that (no such function, a throttle) is answered as ``Invoke`` answers it. The invoke
services are reached through the two small protocols below, which ``invoke/`` satisfies.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from lambdad.api import eventstream, invoke_stream
from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.invoke.response_stream import ResponseStream
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.streamed_body import StreamedBody

# The deprecated InvokeAsync keeps its old 256 KB payload limit.
ASYNC_INVOKE_LIMIT = 256 * 1024
# A buffered result is sent as PayloadChunk events of at most this many bytes.
STREAM_CHUNK_BYTES = 64 * 1024


class SyncInvoker(Protocol):
    async def invoke(
        self, req: InvokeRequest, stream: ResponseStream | None = None
    ) -> InvokeResponse: ...


class EventAcceptor(Protocol):
    async def accept(self, req: InvokeRequest, *, limit: int, operation: str) -> str:
        """Queue an asynchronous invocation durably; its payload at most ``limit``."""
        ...


class InvokeHandlers:
    def __init__(
        self, invoker: SyncInvoker, events: EventAcceptor, *, max_async_payload: int
    ) -> None:
        self.invoker = invoker
        self.events = events
        self.max_async_payload = max_async_payload

    async def invoke(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        req = _sync_request(ctx, p)
        if req.invocation_type == "Event":
            await self.events.accept(req, limit=self.max_async_payload, operation="Invoke")
            return {"StatusCode": 202}
        out = await self.invoker.invoke(req)
        return {
            "StatusCode": out.status,
            "Payload": out.payload,
            "ExecutedVersion": out.executed_version,
            "FunctionError": out.function_error,
            "LogResult": out.log_result,
        }

    async def invoke_with_response_stream(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        # The model allows RequestResponse and DryRun only, so nothing here is queued.
        req = _sync_request(ctx, p)
        if req.invocation_type == "DryRun":
            out = await self.invoker.invoke(req)
            return {"StatusCode": out.status, "ExecutedVersion": out.executed_version}
        stream = ResponseStream()
        task = asyncio.ensure_future(self.invoker.invoke(req, stream))
        await asyncio.wait((task, stream.started), return_when=asyncio.FIRST_COMPLETED)
        if task.done() and task.exception() is not None:
            stream.discard()
            task.result()  # raises what Invoke raises: answered as an API error
        return {
            "StatusCode": 200,
            "ExecutedVersion": stream.executed_version,
            "ResponseStreamContentType": eventstream.CONTENT_TYPE,
            "EventStream": StreamedBody(invoke_stream.stream_events(stream, task, stream_events)),
        }

    async def invoke_async(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        req = InvokeRequest(
            scope=ctx.scope,
            function_name=p["FunctionName"],
            payload=p.get("InvokeArgs") or b"",
            invocation_type="Event",
            request_id=ctx.request_id,
            trace_id=ctx.headers.get("x-amzn-trace-id"),
            role_arn=_role_arn(ctx),
            caller_arn=ctx.principal.arn if ctx.principal.session else "",
        )
        await self.events.accept(req, limit=ASYNC_INVOKE_LIMIT, operation="InvokeAsync")
        return {"Status": 202}


def _sync_request(ctx: RequestContext, p: Params) -> InvokeRequest:
    return InvokeRequest(
        scope=ctx.scope,
        function_name=p["FunctionName"],
        qualifier=p.get("Qualifier"),
        payload=p.get("Payload") or b"",
        invocation_type=p.get("InvocationType") or "RequestResponse",
        log_type=p.get("LogType") or "None",
        client_context=p.get("ClientContext"),
        request_id=ctx.request_id,
        role_arn=_role_arn(ctx),
        caller_arn=ctx.principal.arn if ctx.principal.session else "",
        trace_id=ctx.headers.get("x-amzn-trace-id"),
    )


def _role_arn(ctx: RequestContext) -> str:
    session = ctx.principal.session
    return session.role_arn if session is not None else ""


def stream_events(out: InvokeResponse, chunk_bytes: int = STREAM_CHUNK_BYTES) -> bytes:
    """A buffered result as Lambda streams it: the payload in ``PayloadChunk`` events,
    then ``InvokeComplete``. A function error is reported in ``InvokeComplete`` alone
    (``ErrorCode`` is ``Unhandled`` or ``Handled``, ``ErrorDetails`` the error document),
    with no chunks, as Lambda ends a stream whose function failed."""
    if out.function_error is not None:
        return eventstream.invoke_complete(
            error_code=out.function_error,
            error_details=out.payload.decode("utf-8", "replace"),
            log_result=out.log_result,
        )
    chunks = [
        eventstream.payload_chunk(out.payload[at : at + chunk_bytes])
        for at in range(0, len(out.payload), chunk_bytes)
    ]
    chunks.append(eventstream.invoke_complete(log_result=out.log_result))
    return b"".join(chunks)
