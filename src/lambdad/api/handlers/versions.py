"""Handlers for a function's published versions."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.functions import FunctionService


class VersionHandlers:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    async def publish_version(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.functions.publish_version(ctx.scope, p)

    async def list_versions(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.functions.list_versions(
            ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
        )
