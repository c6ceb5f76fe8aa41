"""Handlers for invoking a function: ``Invoke`` (all three invocation types) and the
deprecated ``InvokeAsync``.

A synchronous invocation answers with the function's result; an asynchronous one
once the event is on disk. The invoke services are reached through the two small
protocols below, which ``invoke/`` satisfies.
"""

from __future__ import annotations

from typing import Any, Protocol

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.invoke.sync import InvokeRequest, InvokeResponse

# The deprecated InvokeAsync keeps its old 256 KB payload limit.
ASYNC_INVOKE_LIMIT = 256 * 1024


class SyncInvoker(Protocol):
    async def invoke(self, req: InvokeRequest) -> InvokeResponse: ...


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
        req = InvokeRequest(
            scope=ctx.scope,
            function_name=p["FunctionName"],
            qualifier=p.get("Qualifier"),
            payload=p.get("Payload") or b"",
            invocation_type=p.get("InvocationType") or "RequestResponse",
            log_type=p.get("LogType") or "None",
            client_context=p.get("ClientContext"),
            request_id=ctx.request_id,
        )
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

    async def invoke_async(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        req = InvokeRequest(
            scope=ctx.scope,
            function_name=p["FunctionName"],
            payload=p.get("InvokeArgs") or b"",
            invocation_type="Event",
            request_id=ctx.request_id,
        )
        await self.events.accept(req, limit=ASYNC_INVOKE_LIMIT, operation="InvokeAsync")
        return {"Status": 202}
