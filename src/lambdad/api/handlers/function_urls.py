"""Handlers for function URL configs (Create/Get/Update/Delete/ListFunctionUrlConfigs)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.function_urls import FunctionUrlService


class FunctionUrlHandlers:
    def __init__(self, urls: FunctionUrlService) -> None:
        self.urls = urls

    async def create(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.urls.create(ctx.scope, p)

    async def get(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.urls.get(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def update(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.urls.update(ctx.scope, p)

    async def delete(self, ctx: RequestContext, p: Params) -> None:
        self.urls.delete(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.urls.list(ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems"))
