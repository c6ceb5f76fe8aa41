"""Handlers for a function's recursion and runtime management configurations."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.function_settings import FunctionSettings


class FunctionSettingsHandlers:
    def __init__(self, settings: FunctionSettings) -> None:
        self.settings = settings

    async def put_recursion(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.settings.put_recursion(ctx.scope, p["FunctionName"], p["RecursiveLoop"])

    async def get_recursion(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.settings.get_recursion(ctx.scope, p["FunctionName"])

    async def put_runtime(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.settings.put_runtime(ctx.scope, p)

    async def get_runtime(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.settings.get_runtime(ctx.scope, p)
