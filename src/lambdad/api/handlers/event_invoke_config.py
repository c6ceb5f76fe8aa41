"""Handlers for a function's asynchronous invocation settings (retries, maximum
event age, destinations)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.event_invoke_config import EventInvokeConfigService


class EventInvokeConfigHandlers:
    def __init__(self, configs: EventInvokeConfigService) -> None:
        self.configs = configs

    async def put(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.put(ctx.scope, p)

    async def update(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.update(ctx.scope, p)

    async def get(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.get(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def delete(self, ctx: RequestContext, p: Params) -> None:
        self.configs.delete(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.list(ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems"))
